import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { alignUp, GGUF_TYPE, type GgufValue, readGgufHeader } from "../src/gguf/mod.ts";
import { encodeGgufHeader, GGML_TYPE } from "./gguf_header.ts";

const FIXTURE = new URL("../tests/fixtures/stories260K.gguf", import.meta.url);
const KEEP_ALL = { limits: { keepArrayItems: Infinity, maxKeptArrayItems: Infinity } };

/** Writes a header with `dataBytes` zero bytes after it and reads it back with lode's reader. */
async function roundTrip(header: Uint8Array, dataBytes: number) {
  const path = await Deno.makeTempFile({ prefix: "gguf_header_test_" });
  try {
    await Deno.writeFile(path, header);
    await Deno.truncate(path, header.byteLength + dataBytes);
    return await readGgufHeader(path, KEEP_ALL);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("encodeGgufHeader round-trips every value type through lode's reader", async () => {
  const src = await readGgufHeader(FIXTURE, KEEP_ALL);
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
    ["arr", { type: GGUF_TYPE.ARRAY, itemType: GGUF_TYPE.INT32, length: 3, value: [1, -2, 3] }],
    ["general.alignment", { type: GGUF_TYPE.UINT32, value: 64 }],
    ...[...src.metadata].filter(([k]) => k.startsWith("tokenizer.")),
  ]);
  const tensors = [
    { name: "a", dims: [4, 8], type: GGML_TYPE.F16, offset: 0 },
    { name: "b", dims: [3], type: GGML_TYPE.F32, offset: 64 },
  ];
  const bytes = encodeGgufHeader(kv, tensors);
  assertEquals(bytes.byteLength % 64, 0);
  const h = await roundTrip(bytes, 64 + 12);
  assertEquals(h.metadata, kv);
  assertEquals(h.tensors, tensors);
  assertEquals(h.alignment, 64);
  assertEquals(h.dataOffset, bytes.byteLength);
  assertThrows(() => encodeGgufHeader(kv, [{ name: "x", dims: [1], type: 0, offset: 3 }]), /aligned/);
  const skipped = new Map<string, GgufValue>([["t", { type: GGUF_TYPE.ARRAY, itemType: 8, length: 9 }]]);
  assertThrows(() => encodeGgufHeader(skipped, []), /"t" was skipped when read/);
  assertEquals(alignUp(33, 32), 64);
});

Deno.test("the fixture's header re-encodes byte for byte", async () => {
  const h = await readGgufHeader(FIXTURE, KEEP_ALL);
  const original = (await Deno.readFile(FIXTURE)).subarray(0, h.dataOffset);
  assertEquals(encodeGgufHeader(h.metadata, h.tensors), original);
});

Deno.test("encodeGgufHeader: a header larger than the encoder's first buffer (64 KiB)", async () => {
  const tokens = Array.from({ length: 20_000 }, (_, i) => `token${i}`);
  const kv = new Map<string, GgufValue>([
    ["tokenizer.ggml.tokens", {
      type: GGUF_TYPE.ARRAY,
      itemType: GGUF_TYPE.STRING,
      length: tokens.length,
      value: tokens,
    }],
    ["tokenizer.ggml.scores", {
      type: GGUF_TYPE.ARRAY,
      itemType: GGUF_TYPE.FLOAT32,
      length: tokens.length,
      value: tokens.map((_, i) => -i),
    }],
  ]);
  const bytes = encodeGgufHeader(kv, []);
  assertEquals(bytes.byteLength > 64 * 1024, true);
  assertEquals((await roundTrip(bytes, 0)).metadata, kv);
});
