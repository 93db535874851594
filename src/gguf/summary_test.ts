import assert from "node:assert/strict";
import { encodeGgufHeader } from "../../scripts/gguf_header.ts";
import { writeGgufModel } from "../../scripts/gen_gguf.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";
import { GGUF_TYPE, type GgufValue } from "./gguf_types.ts";
import { inspectGguf } from "./summary.ts";

const FIXTURE = new URL("../../tests/fixtures/stories260K.gguf", import.meta.url).pathname;

/** What node-llama-cpp says about the same file (GgufInsights, without loading the weights). */
async function theirs(path: string) {
  const { getLlama, GgufInsights, LlamaLogLevel, readGgufFileInfo } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
  const info = await readGgufFileInfo(path, { logWarnings: false });
  const insights = await GgufInsights.from(info, llama);
  const arch = info.architectureMetadata as Record<string, unknown> & { attention?: Record<string, unknown> };
  return {
    architecture: info.metadata.general.architecture,
    parameters: insights.totalParameters,
    tensorDataBytes: insights.modelSize,
    dominantType: insights.dominantTensorType,
    contextLength: insights.trainContextSize,
    embeddingLength: insights.embeddingVectorSize,
    blockCount: insights.totalLayers - 1,
    headCount: arch.attention?.head_count,
    headCountKv: arch.attention?.head_count_kv,
    fileType: info.metadata.general.file_type,
    tensorCount: Number(info.tensorCount),
  };
}

Deno.test("inspectGguf: stories260K, every number checked against node-llama-cpp", async () => {
  const { GgmlType } = await import("node-llama-cpp");
  const s = await inspectGguf(FIXTURE);
  const t = await theirs(FIXTURE);
  assert.equal(s.architecture, t.architecture);
  assert.equal(s.parameters, t.parameters);
  assert.equal(s.tensorDataBytes, t.tensorDataBytes);
  assert.equal(t.fileType, undefined, "stories260K has no general.file_type");
  assert.equal(s.quantization, GgmlType[t.dominantType!]);
  assert.equal(s.quantizationSource, "tensors");
  assert.equal(s.contextLength, t.contextLength);
  assert.equal(s.embeddingLength, t.embeddingLength);
  assert.equal(s.blockCount, t.blockCount);
  assert.equal(s.headCount, t.headCount);
  assert.equal(s.headCountKv, t.headCountKv);
  assert.equal(s.tensorCount, t.tensorCount);
  assert.equal(s.fileSize, (await Deno.stat(FIXTURE)).size);
  assert.equal(s.chatTemplate, false);
  assert.equal(s.vocabSize, 512);
  assert.equal(s.keyLength, 64 / 8);
  assert.deepEqual(s.tensorTypes, { F32: s.tensorDataBytes });
});

Deno.test("inspectGguf: a generated f16 model agrees with node-llama-cpp and with the generator", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/m.gguf`;
    const r = await writeGgufModel(path, { params: 3_000_000, seed: 3 });
    const s = await inspectGguf(path);
    const t = await theirs(path);
    assert.equal(s.parameters, r.params);
    assert.equal(s.parameters, t.parameters);
    assert.equal(s.tensorDataBytes, t.tensorDataBytes);
    assert.equal(s.quantization, "F16");
    assert.equal(s.quantizationSource, "file_type");
    assert.equal(t.fileType, 1);
    assert.equal(s.blockCount, r.shape.nLayer);
    assert.equal(s.blockCount, t.blockCount);
    assert.equal(s.embeddingLength, t.embeddingLength);
    assert.equal(s.headCountKv, r.shape.nHeadKv);
    assert.equal(s.contextLength, 2048);
    assert.equal(s.fileSize, r.sizeBytes);
    assert.ok(s.tensorTypes.F16! > s.tensorTypes.F32!, "norms are f32, weights f16");
  }, { prefix: "gguf-summary-" });
});

/** Writes a header followed by `dataBytes` zero bytes of tensor data. */
async function writeWithZeroData(path: string, header: Uint8Array, dataBytes: number): Promise<void> {
  await Deno.writeFile(path, header);
  await Deno.truncate(path, header.byteLength + dataBytes);
}

Deno.test("inspectGguf: a named file type, a chat template, per-layer head counts, a dominant quant", async () => {
  await withTempDir(async (dir) => {
    const u32 = (value: number): GgufValue => ({ type: GGUF_TYPE.UINT32, value });
    const kv = new Map<string, GgufValue>([
      ["general.architecture", { type: GGUF_TYPE.STRING, value: "qwen3" }],
      ["qwen3.context_length", u32(40960)],
      ["qwen3.embedding_length", u32(256)],
      ["qwen3.block_count", u32(2)],
      ["qwen3.attention.head_count", {
        type: GGUF_TYPE.ARRAY,
        itemType: GGUF_TYPE.UINT32,
        length: 2,
        value: [4, 8],
      }],
      ["qwen3.attention.head_count_kv", u32(2)],
      ["qwen3.attention.key_length", u32(128)],
      ["tokenizer.chat_template", { type: GGUF_TYPE.STRING, value: "{{ messages }}" }],
    ]);
    const tensors = [
      { name: "a", dims: [256, 256], type: 12, offset: 0 }, // Q4_K: 36864 bytes
      { name: "b", dims: [256, 16], type: 14, offset: 36864 }, // Q6_K: 3360 bytes
      { name: "n", dims: [256], type: 0, offset: 36864 + 3360 }, // F32: 1024 bytes
    ];
    const header = encodeGgufHeader(kv, tensors);
    const data = 36864 + 3360 + 1024;
    await writeWithZeroData(`${dir}/q.gguf`, header, data);
    const s = await inspectGguf(`${dir}/q.gguf`);
    assert.equal(s.quantization, "Q4_K");
    assert.equal(s.quantizationSource, "tensors");
    assert.deepEqual(Object.keys(s.tensorTypes), ["Q4_K", "Q6_K", "F32"]);
    assert.equal(s.parameters, 256 * 256 + 256 * 16 + 256);
    assert.equal(s.tensorDataBytes, data);
    assert.equal(s.chatTemplate, true);
    assert.equal(s.headCount, 8, "the largest of per-layer values");
    assert.equal(s.keyLength, 128);
    assert.equal(s.valueLength, 256 / 8);
    assert.equal(s.vocabSize, null);

    kv.set("general.file_type", u32(15));
    const named = encodeGgufHeader(kv, tensors);
    await writeWithZeroData(`${dir}/q15.gguf`, named, data);
    const q = await inspectGguf(`${dir}/q15.gguf`);
    assert.equal(q.quantization, "Q4_K_M");
    assert.equal(q.quantizationSource, "file_type");
  }, { prefix: "gguf-summary-" });
});
