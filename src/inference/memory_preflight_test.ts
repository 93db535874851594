import assert from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import {
  GGUF_TYPE,
  type GgufArrayValue,
  type GgufValue,
  readGgufHeader,
  readGgufModelHeader,
} from "../gguf/mod.ts";
import { writeGgufModel } from "../../scripts/gen_gguf.ts";
import { encodeGgufHeader } from "../../scripts/gguf_header.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";
import { checkMemory, estimateMemory, MODEL_OVERHEAD_BYTES, preflight } from "./memory_preflight.ts";

const FIXTURE = new URL("../../tests/fixtures/stories260K.gguf", import.meta.url).pathname;
const MiB = 1024 * 1024;

/** One llama.cpp instance for the file, logging at debug level into `logs` (node-llama-cpp keeps the first logger). */
let shared: Promise<{ llama: import("node-llama-cpp").Llama; logs: string[] }> | undefined;
function debugLlama() {
  shared ??= (async () => {
    const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
    const logs: string[] = [];
    const llama = await getLlama({
      gpu: false,
      logLevel: LlamaLogLevel.debug,
      logger: (_l, m) => logs.push(m),
    });
    return { llama, logs };
  })();
  return shared;
}

/**
 * What llama.cpp itself allocates for a context (its log lines "CPU KV buffer size", "CPU compute buffer
 * size"), and node-llama-cpp's GgufInsights estimates for the same model and context.
 */
async function measure(path: string, contextSizes: number[]) {
  const { llama, logs } = await debugLlama();
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  const out = [];
  try {
    const modelEstimate = model.fileInsights.estimateModelResourceRequirements({ gpuLayers: 0 });
    for (const contextSize of contextSizes) {
      logs.length = 0;
      const context = await model.createContext({ contextSize, threads: 1 });
      const mib = (re: RegExp) => Number(re.exec(logs.join("\n"))?.[1]) * MiB;
      out.push({
        contextSize,
        batchSize: context.batchSize,
        kv: mib(/CPU KV buffer size =\s+([\d.]+) MiB/),
        compute: mib(/CPU compute buffer size =\s+([\d.]+) MiB/),
        theirContext: model.fileInsights.estimateContextResourceRequirements({
          contextSize,
          modelGpuLayers: 0,
        }),
        theirModel: modelEstimate,
      });
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
  return out;
}

/** Our estimate against llama.cpp's allocations and node-llama-cpp's estimate, for each context size. */
async function compare(path: string, contextSizes: number[]) {
  const header = await readGgufHeader(path);
  const rows = [];
  for (const m of await measure(path, contextSizes)) {
    const e = estimateMemory(header, { contextSize: m.contextSize });
    assert.equal(e.batchSize, m.batchSize, "the batch node-llama-cpp uses");
    assert.equal(e.weights.ram, m.theirModel.cpuRam, "weights: node-llama-cpp's model estimate");
    // llama.cpp prints MiB with 2 decimals: equal within that rounding.
    assert.ok(Math.abs(e.kvCache.ram - m.kv) <= 0.005 * MiB, `KV ${e.kvCache.ram} vs llama.cpp ${m.kv}`);
    assert.ok(e.compute.ram >= m.compute, `compute ${e.compute.ram} ≥ llama.cpp's ${m.compute}`);
    assert.ok(e.compute.ram <= 2 * m.compute + MiB, `compute ${e.compute.ram} not far above ${m.compute}`);
    // The context's memory: ours never below what llama.cpp allocates, and at least as close to it as
    // node-llama-cpp's estimate (which assumes no flash attention, so it is far above at large contexts,
    // and below llama.cpp's compute buffer at small ones).
    const ours = e.kvCache.ram + e.compute.ram;
    const actual = m.kv + m.compute;
    const theirs = m.theirContext.cpuRam;
    assert.ok(ours >= actual, `context ${ours} ≥ llama.cpp's ${actual}`);
    assert.ok(
      ours - actual <= Math.abs(theirs - actual),
      `ours ${ours}, node-llama-cpp ${theirs}, llama.cpp ${actual}`,
    );
    rows.push({ ctx: m.contextSize, ours, llamaCpp: m.kv + m.compute, nodeLlamaCpp: m.theirContext.cpuRam });
  }
  return rows;
}

Deno.test("estimateMemory: stories260K against llama.cpp's buffers and node-llama-cpp's GgufInsights", async () => {
  const rows = await compare(FIXTURE, [512, 2048]);
  console.log(JSON.stringify(rows));
  const e = estimateMemory(await readGgufHeader(FIXTURE), { contextSize: 2048 });
  assert.equal(e.kvCache.ram, 2 * 5 * 2048 * (4 * 8 + 4 * 8) * 2 / 2, "n_layer × n_ctx × (k + v) × 2 bytes");
  assert.equal(e.kvBytesPerToken, 5 * (32 + 32) * 2);
  assert.equal(e.vram, 0);
  assert.equal(e.ram, e.weights.ram + e.kvCache.ram + e.compute.ram + MODEL_OVERHEAD_BYTES);
});

Deno.test("estimateMemory: a generated 100M model against llama.cpp and node-llama-cpp", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/m100.gguf`;
    await writeGgufModel(path, { params: 100_000_000, seed: 5 });
    const rows = await compare(path, [512, 2048, 8192]);
    console.log(JSON.stringify(rows));
  }, { prefix: "preflight-100m-" });
});

/** A tokenizer source: stories260K's 512 tokens plus plain ones up to `size` (a real vocabulary's size). */
async function bigTokenizer(path: string, size: number): Promise<void> {
  const src = await readGgufHeader(FIXTURE, { limits: { keepArrayItems: Infinity } });
  const kv = new Map<string, GgufValue>();
  for (const [key, value] of src.metadata) {
    if (!key.startsWith("tokenizer.")) continue;
    if (value.type !== GGUF_TYPE.ARRAY) {
      kv.set(key, value);
      continue;
    }
    const array = value as GgufArrayValue;
    const items = [...array.value!];
    for (let i = items.length; i < size; i++) {
      items.push(key.endsWith(".tokens") ? `▁w${i}` : key.endsWith(".scores") ? -1000 - i : 1);
    }
    kv.set(key, { ...array, length: size, value: items });
  }
  await Deno.writeFile(path, encodeGgufHeader(kv, []));
}

Deno.test("estimateMemory: a 32k vocabulary (the logits of a batch dominate the compute buffer)", async () => {
  await withTempDir(async (dir) => {
    await bigTokenizer(`${dir}/tok.gguf`, 32_000);
    const path = `${dir}/m.gguf`;
    await writeGgufModel(path, { params: 20_000_000, seed: 6, tokenizerFrom: `${dir}/tok.gguf` });
    assert.equal(
      estimateMemory(await readGgufHeader(path), { contextSize: 512 }).compute.ram > 64 * MiB,
      true,
    );
    console.log(JSON.stringify(await compare(path, [512, 4096])));
  }, { prefix: "preflight-vocab-" });
});

Deno.test("estimateMemory: GPU layers move weights, KV cache and compute to VRAM as llama.cpp splits them", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/m.gguf`;
    const r = await writeGgufModel(path, { sizeBytes: 4 * MiB, seed: 1 });
    const header = await readGgufHeader(path);
    const n = r.shape.nLayer;
    const cpu = estimateMemory(header, { contextSize: 1024, gpuLayers: 0 });
    const half = estimateMemory(header, { contextSize: 1024, gpuLayers: Math.floor(n / 2) });
    const layers = estimateMemory(header, { contextSize: 1024, gpuLayers: n });
    const all = estimateMemory(header, { contextSize: 1024, gpuLayers: 999 });
    const bytesOf = (name: string) => {
      const t = header.tensors.find((t) => t.name === name)!;
      return t.dims.reduce((a, b) => a * b) * (t.type === 0 ? 4 : 2);
    };
    const total = cpu.weights.ram;
    for (const e of [half, layers, all]) assert.equal(e.weights.ram + e.weights.vram, total);
    assert.ok(half.weights.vram > 0 && half.weights.vram < layers.weights.vram);
    assert.equal(
      layers.weights.ram,
      bytesOf("token_embd.weight") + bytesOf("output_norm.weight") + bytesOf("output.weight"),
    );
    assert.equal(all.weights.ram, bytesOf("token_embd.weight"), "the token embedding stays in RAM");
    assert.equal(all.gpuLayers, n + 1);
    assert.equal(half.kvCache.vram, cpu.kvCache.ram * Math.floor(n / 2) / n);
    assert.equal(layers.kvCache.ram, 0);
    assert.equal(cpu.compute.vram, 0);
    assert.equal(all.compute.vram, all.compute.ram);
  }, { prefix: "preflight-gpu-" });
});

function thrown(f: () => void): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

Deno.test("checkMemory: INSUFFICIENT_MEMORY with the numbers and a context size that fits", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/m.gguf`;
    await writeGgufModel(path, { params: 3_000_000, seed: 2 });
    const header = await readGgufHeader(path);
    const e = estimateMemory(header, { contextSize: 32768 });
    checkMemory(e, { ram: e.ram });
    checkMemory(e, {});
    const have = e.ram - e.kvCache.ram / 2;
    const err = thrown(() => checkMemory(e, { ram: have }));
    assert.ok(isLodeError(err, "INSUFFICIENT_MEMORY"), String(err));
    assert.match(
      err.message,
      /needs about [\d.]+ MiB of RAM with a 32768-token context \(weights .*KV cache/,
    );
    assert.match(err.message, /lower --ctx-size to \d+ or less/);
    assert.equal(err.details.needed_bytes, e.ram);
    assert.equal(err.details.available_bytes, have);
    const fits = err.details.max_context_size as number;
    assert.ok(fits >= 256 && fits < 32768 && fits % 256 === 0, String(fits));
    assert.ok(estimateMemory(header, { contextSize: fits }).ram <= have, "the advised context fits");
    assert.ok(estimateMemory(header, { contextSize: fits + 256 }).ram > have, "and is the largest that does");
    assert.equal(err.exitCode, 10);

    const tiny = thrown(() => checkMemory(e, { ram: e.weights.ram / 2 }));
    assert.ok(isLodeError(tiny, "INSUFFICIENT_MEMORY"));
    assert.equal(tiny.details.max_context_size, null);
    assert.match(tiny.message, /use a smaller model or quantization/);

    const gpu = estimateMemory(header, { contextSize: 4096, gpuLayers: 999 });
    assert.throws(() => checkMemory(gpu, { ram: gpu.ram, vram: gpu.vram - 1 }), /of VRAM/);
    checkMemory(gpu, { ram: gpu.ram, vram: gpu.vram });
  }, { prefix: "preflight-check-" });
});

Deno.test("preflight: reads the header, takes RAM from /proc/meminfo unless given, refuses a bad file", async () => {
  const ok = await preflight(FIXTURE, { contextSize: 2048, gpuLayers: 0 });
  assert.equal(ok.contextSize, 2048);
  await assert.rejects(
    preflight(FIXTURE, { contextSize: 2048, availableRam: 1024 * 1024 }),
    (e) => isLodeError(e, "INSUFFICIENT_MEMORY"),
  );
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/bad.gguf`, new TextEncoder().encode("not a model"));
    await assert.rejects(
      preflight(`${dir}/bad.gguf`, { contextSize: 512 }),
      (e) => isLodeError(e, "GGUF_INVALID"),
    );
  });
  assert.throws(() => estimateMemory({} as never, { contextSize: 0 }));
});

Deno.test("preflight: a split model's weights are counted from every shard; the default context is the model's", async () => {
  const { splitGguf } = await import("../../scripts/split_gguf.ts");
  const dir = await Deno.makeTempDir({ prefix: "lode-preflight-split-" });
  try {
    const shards = await splitGguf(FIXTURE, { outPrefix: `${dir}/s`, count: 3 });
    const whole = await preflight(FIXTURE, { gpuLayers: 0, availableRam: 2 ** 40 });
    const split = await preflight(shards[0]!.path, { gpuLayers: 0, availableRam: 2 ** 40 });
    assert.equal(split.weights.ram, whole.weights.ram);
    assert.equal(whole.contextSize, 2048); // stories260K was trained with 2048 tokens (below the 4096 cap)
    assert.equal(
      (await readGgufModelHeader(shards[0]!.path)).tensors.length,
      (await readGgufModelHeader(FIXTURE)).tensors.length,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("preflight with sequences: each gets the default context; the advice is per sequence, or --parallel", async () => {
  const one = await preflight(FIXTURE, { gpuLayers: 0, availableRam: 2 ** 40 });
  const four = await preflight(FIXTURE, { gpuLayers: 0, sequences: 4, availableRam: 2 ** 40 });
  assert.equal(four.contextSize, 4 * one.contextSize);
  assert.equal(four.sequences, 4);
  assert.equal(four.kvCache.ram, 4 * one.kvCache.ram);
  await withTempDir(async (dir) => {
    const path = `${dir}/m.gguf`;
    await writeGgufModel(path, { params: 3_000_000, seed: 2 });
    const header = await readGgufHeader(path);
    const e = estimateMemory(header, { contextSize: 4 * 8192, sequences: 4 });
    const err = thrown(() => checkMemory(e, { ram: e.ram - e.kvCache.ram / 2 }));
    assert.ok(isLodeError(err, "INSUFFICIENT_MEMORY"), String(err));
    const perSequence = Number(err.message.match(/lower --ctx-size to (\d+) or less/)?.[1]);
    assert.ok(perSequence >= 256 && perSequence < 8192 && perSequence % 256 === 0, err.message);
    assert.match(err.message, /each of the 4 requests that run at once, --parallel\), or --parallel/);
    assert.ok(estimateMemory(header, { contextSize: 4 * perSequence }).ram <= e.ram - e.kvCache.ram / 2);
  }, { prefix: "preflight-sequences-" });
});
