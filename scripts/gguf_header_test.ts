import {
  deepStrictEqual as assertEquals,
  rejects as assertRejects,
  throws as assertThrows,
} from "node:assert/strict";
import {
  alignUp,
  encodeGgufHeader,
  GGML_TYPE,
  GGUF_TYPE,
  type GgufValue,
  parseGgufHeader,
  readGgufHeader,
} from "./gguf_header.ts";

const FIXTURE = new URL("../tests/fixtures/stories260K.gguf", import.meta.url);

Deno.test("readGgufHeader: the stories260K fixture", async () => {
  const h = await readGgufHeader(FIXTURE);
  assertEquals(h.version, 3);
  assertEquals(h.alignment, 32);
  assertEquals(h.kv.get("general.architecture")?.value, "llama");
  assertEquals(h.kv.get("tokenizer.ggml.model")?.value, "llama");
  assertEquals(h.kv.get("llama.embedding_length"), { type: GGUF_TYPE.UINT32, value: 64 });
  const tokens = h.kv.get("tokenizer.ggml.tokens");
  assertEquals(tokens && "itemType" in tokens ? [tokens.itemType, tokens.value.length] : [], [
    GGUF_TYPE.STRING,
    512,
  ]);
  assertEquals(tokens?.value && Array.isArray(tokens.value) ? tokens.value.slice(0, 3) : [], [
    "<unk>",
    "<s>",
    "</s>",
  ]);
  assertEquals(h.tensors.length, 48);
  assertEquals(h.tensors[0], { name: "token_embd.weight", dims: [64, 512], type: GGML_TYPE.F32, offset: 0 });
  assertEquals(h.dataOffset % 32, 0);
  const last = h.tensors.at(-1)!;
  assertEquals(h.dataOffset + last.offset + last.dims[0]! * 4, (await Deno.stat(FIXTURE)).size);
});

Deno.test("encodeGgufHeader round-trips every value type through parseGgufHeader", async () => {
  const src = await readGgufHeader(FIXTURE);
  const kv = new Map<string, GgufValue>([
    ["u8", { type: GGUF_TYPE.UINT8, value: 200 }],
    ["i8", { type: GGUF_TYPE.INT8, value: -5 }],
    ["u16", { type: GGUF_TYPE.UINT16, value: 65000 }],
    ["i16", { type: GGUF_TYPE.INT16, value: -3000 }],
    ["u32", { type: GGUF_TYPE.UINT32, value: 4e9 }],
    ["i32", { type: GGUF_TYPE.INT32, value: -2e9 }],
    ["f32", { type: GGUF_TYPE.FLOAT32, value: 0.5 }],
    ["bool", { type: GGUF_TYPE.BOOL, value: true }],
    ["str", { type: GGUF_TYPE.STRING, value: "héllo ▁world" }],
    ["u64", { type: GGUF_TYPE.UINT64, value: 2n ** 60n }],
    ["i64", { type: GGUF_TYPE.INT64, value: -(2n ** 60n) }],
    ["f64", { type: GGUF_TYPE.FLOAT64, value: Math.PI }],
    ["arr", { type: GGUF_TYPE.ARRAY, itemType: GGUF_TYPE.INT32, value: [1, -2, 3] }],
    ["general.alignment", { type: GGUF_TYPE.UINT32, value: 64 }],
    ...[...src.kv].filter(([k]) => k.startsWith("tokenizer.")),
  ]);
  const tensors = [
    { name: "a", dims: [4, 8], type: GGML_TYPE.F16, offset: 0 },
    { name: "b", dims: [3], type: GGML_TYPE.F32, offset: 64 },
  ];
  const bytes = encodeGgufHeader(kv, tensors);
  assertEquals(bytes.byteLength % 64, 0);
  const h = parseGgufHeader(bytes);
  assertEquals(h.kv, kv);
  assertEquals(h.tensors, tensors);
  assertEquals(h.alignment, 64);
  assertEquals(h.dataOffset, bytes.byteLength);
  assertThrows(() => parseGgufHeader(bytes.subarray(0, 100)), /truncated/);
  assertThrows(() => encodeGgufHeader(kv, [{ name: "x", dims: [1], type: 0, offset: 3 }]), /aligned/);
});

Deno.test("parseGgufHeader rejects bad magic, versions and absurd counts", () => {
  const bytes = encodeGgufHeader(new Map(), []);
  assertEquals(parseGgufHeader(bytes).tensors, []);
  const badMagic = bytes.slice();
  badMagic[0] = 0;
  assertThrows(() => parseGgufHeader(badMagic), /bad magic/);
  const badVersion = bytes.slice();
  new DataView(badVersion.buffer).setUint32(4, 9, true);
  assertThrows(() => parseGgufHeader(badVersion), /version 9/);
  const huge = bytes.slice();
  new DataView(huge.buffer).setBigUint64(16, 2n ** 40n, true);
  assertThrows(() => parseGgufHeader(huge), /exceeds limit/);
  assertEquals(alignUp(33, 32), 64);
  assertEquals(alignUp(64, 32), 64);
});

Deno.test("readGgufHeader: bounded read and truncated files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gguf_header_test_" });
  try {
    await assertRejects(readGgufHeader(FIXTURE, { maxHeaderBytes: 1000 }), /larger than 1000/);
    const head = (await Deno.readFile(FIXTURE)).subarray(0, 5000);
    await Deno.writeFile(`${dir}/cut.gguf`, head);
    await assertRejects(readGgufHeader(`${dir}/cut.gguf`), /truncated/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
