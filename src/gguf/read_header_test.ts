import assert from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import { GgufBytes, sampleGguf } from "../../tests/support/gguf_bytes.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";
import { GGUF_TYPE, type GgufArrayValue } from "./gguf_types.ts";
import { readGgufHeader, type ReadGgufOptions } from "./read_header.ts";

const FIXTURE = new URL("../../tests/fixtures/stories260K.gguf", import.meta.url).pathname;

Deno.test("readGgufHeader: stories260K matches node-llama-cpp's readGgufFileInfo", async () => {
  const { readGgufFileInfo } = await import("node-llama-cpp");
  const theirs = await readGgufFileInfo(FIXTURE, { logWarnings: false });
  const ours = await readGgufHeader(FIXTURE, { limits: { keepArrayItems: Infinity } });
  assert.equal(ours.version, theirs.version);
  assert.equal(ours.tensors.length, Number(theirs.tensorCount));
  assert.equal(ours.headerBytes, theirs.metadataSize + theirs.tensorInfoSize!);
  // Every metadata key: follow the dotted path in their nested object.
  for (const [key, value] of ours.metadata) {
    let node: unknown = theirs.metadata;
    for (const part of key.split(".")) node = (node as Record<string, unknown>)[part];
    if (value.type === GGUF_TYPE.ARRAY) {
      assert.deepEqual((value as GgufArrayValue).value, node, key);
    } else {
      assert.equal(value.value, node, key);
    }
  }
  const info = theirs.fullTensorInfo!;
  assert.deepEqual(
    ours.tensors.map((t) => [t.name, t.dims, t.type, t.offset]),
    info.map((t) => [t.name, t.dimensions.map(Number), t.ggmlType, Number(t.offset)]),
  );
  assert.equal(ours.dataOffset, Number(info[0]!.fileOffset) - Number(info[0]!.offset));
  assert.equal(ours.fileSize, (await Deno.stat(FIXTURE)).size);
  assert.equal(ours.alignment, 32);
});

Deno.test("readGgufHeader: long arrays are skipped with their length; an open file is read from its start", async () => {
  const all = await readGgufHeader(FIXTURE, { limits: { keepArrayItems: Infinity } });
  using file = await Deno.open(FIXTURE);
  await file.seek(1000, Deno.SeekMode.Start);
  const some = await readGgufHeader(file, { limits: { keepArrayItems: 100 } });
  const tokens = some.metadata.get("tokenizer.ggml.tokens") as GgufArrayValue;
  assert.deepEqual(tokens, { type: GGUF_TYPE.ARRAY, itemType: GGUF_TYPE.STRING, length: 512 });
  assert.equal((some.metadata.get("tokenizer.ggml.scores") as GgufArrayValue).value, undefined);
  assert.deepEqual([...some.metadata.keys()], [...all.metadata.keys()]);
  assert.deepEqual(some.metadata.get("llama.block_count"), all.metadata.get("llama.block_count"));
  assert.deepEqual(some.tensors, all.tensors);
  assert.equal(some.dataOffset, all.dataOffset);
  // The total budget of kept items: once spent, later arrays are skipped too.
  const budget = await readGgufHeader(FIXTURE, { limits: { keepArrayItems: 1000, maxKeptArrayItems: 600 } });
  assert.equal((budget.metadata.get("tokenizer.ggml.tokens") as GgufArrayValue).value?.length, 512);
  assert.equal((budget.metadata.get("tokenizer.ggml.scores") as GgufArrayValue).value, undefined);
});

Deno.test("readGgufHeader: a v2 file reads like v3; a 150k-token vocabulary is skipped, not kept", async () => {
  await withTempDir(async (dir) => {
    const v2 = sampleGguf();
    new DataView(v2.buffer).setUint32(4, 2, true);
    await Deno.writeFile(`${dir}/v2.gguf`, v2);
    const h = await readGgufHeader(`${dir}/v2.gguf`);
    assert.equal(h.version, 2);
    assert.equal(h.tensors.length, 2);

    const tokens = Array.from({ length: 150_000 }, (_, i) => `tok${i}▁`);
    await Deno.writeFile(`${dir}/big.gguf`, sampleGguf({ tokens }));
    const big = await readGgufHeader(`${dir}/big.gguf`);
    const skipped = big.metadata.get("tokenizer.ggml.tokens") as GgufArrayValue;
    assert.equal(skipped.length, 150_000);
    assert.equal(skipped.value, undefined, "skipped with its length: no string of it is kept");
    const kept = await readGgufHeader(`${dir}/big.gguf`, { limits: { keepArrayItems: Infinity } });
    assert.equal(
      (kept.metadata.get("tokenizer.ggml.tokens") as GgufArrayValue).value?.[149_999],
      "tok149999▁",
    );
  }, { prefix: "gguf-read-" });
});

/** A header that is fine up to the point the test breaks it. */
const head = (tensors: number | bigint, kvs: number | bigint) => new GgufBytes().head(tensors, kvs);

const CASES: [string, () => Uint8Array, RegExp, ReadGgufOptions?][] = [
  ["empty file", () => new Uint8Array(0), /the file is empty/],
  ["3 bytes", () => new Uint8Array([0x47, 0x47, 0x55]), /only 3 bytes/],
  ["wrong magic", () => new GgufBytes().magic("GGML").u32(3).u64(0).u64(0).bytes(), /wrong magic "GGML"/],
  ["GGUF v1", () => new GgufBytes().magic().u32(1).u64(0).u64(0).bytes(), /v1 is not supported/],
  ["unknown version", () => new GgufBytes().magic().u32(99).u64(0).u64(0).bytes(), /version 99/],
  ["big-endian", () => new GgufBytes().magic().u32(0x03000000).u64(0).u64(0).bytes(), /big-endian/],
  [
    "no counts",
    () => new GgufBytes().magic().u32(3).u64(0).bytes(),
    /reading the tensor and key\/value counts needs 16 bytes/,
  ],
  ["tensor count 2^63-1", () => head(2n ** 63n - 1n, 0).bytes(), /tensor count 9223372036854775807 exceeds/],
  ["kv count 2^64-1", () => head(0, 2n ** 64n - 1n).bytes(), /key\/value count 18446744073709551615 exceeds/],
  [
    "kv count beyond the file",
    () => head(0, 60_000).zeros(200).bytes(),
    /key\/value count 60000 needs at least/,
  ],
  [
    "key length 2^63",
    () => head(0, 1).u64(2n ** 63n).zeros(16).bytes(),
    /string length 9223372036854775808 exceeds/,
  ],
  ["key beyond the file", () => head(0, 1).u64(1000).zeros(20).bytes(), /needs 1000 bytes but the file ends/],
  [
    "unknown value type",
    () => head(0, 1).str("k").u32(13).u32(0).bytes(),
    /"k" has an unknown value type 13/,
  ],
  ["nested array", () => head(0, 1).str("k").u32(9).u32(9).u64(1).bytes(), /nested array/],
  ["array of unknown type", () => head(0, 1).str("k").u32(9).u32(77).u64(1).bytes(), /unknown value type 77/],
  [
    "array length 2^63",
    () => head(0, 1).str("k").u32(9).u32(0).u64(2n ** 63n).bytes(),
    /length of array "k"/,
  ],
  [
    "array longer than the file",
    () => head(0, 1).str("k").u32(9).u32(4).u64(1_000_000).zeros(64).bytes(),
    /length of array "k" 1000000 needs at least 4000000 bytes/,
  ],
  [
    "skipped string array item beyond the file",
    () => head(0, 1).str("k").u32(9).u32(8).u64(2).str("a").u64(500).zeros(10).bytes(),
    /item 1 of "k" needs 500 bytes/,
  ],
  ["truncated value", () => head(0, 1).str("k").u32(10).u32(0).bytes(), /value of "k" needs 8 bytes/],
  ["duplicate key", () => head(0, 2).kvU32("k", 1).kvU32("k", 2).bytes(), /duplicate key "k"/],
  [
    "alignment not a power of 2",
    () => head(0, 1).kvU32("general.alignment", 48).bytes(),
    /general.alignment 48 is not a power of 2/,
  ],
  ["alignment not a u32", () => head(0, 1).kvStr("general.alignment", "32").bytes(), /must be a u32/],
  [
    "tensor name too long",
    () => head(1, 0).tensor("x".repeat(64), [32], 0, 0).pad(32).zeros(128).bytes(),
    /names must be shorter than 64/,
  ],
  ["5 dims", () => head(1, 0).tensor("t", [1, 1, 1, 1, 1], 0, 0).bytes(), /5 dimensions/],
  ["removed ggml type", () => head(1, 0).tensor("t", [32], 4, 0).bytes(), /unknown ggml type 4/],
  ["unknown ggml type", () => head(1, 0).tensor("t", [32], 1000, 0).bytes(), /unknown ggml type 1000/],
  ["dim 2^64-1", () => head(1, 0).tensor("t", [2n ** 64n - 1n], 0, 0).bytes(), /too large/],
  ["elements overflow", () => head(1, 0).tensor("t", [2 ** 30, 2 ** 30, 2 ** 30], 0, 0).bytes(), /too large/],
  ["row not whole blocks", () => head(1, 0).tensor("t", [33], 2, 0).bytes(), /33 elements per row/],
  [
    "misaligned data",
    () => head(1, 0).tensor("t", [8], 0, 4).pad(32).zeros(64).bytes(),
    /offset 4 is not a multiple of the alignment 32/,
  ],
  [
    "overlapping data",
    () => head(2, 0).tensor("a", [8], 0, 0).tensor("b", [8], 0, 0).pad(32).zeros(64).bytes(),
    /"b" data is at offset 0, expected 32/,
  ],
  [
    "data beyond the file",
    () => head(1, 0).tensor("t", [1024], 0, 0).pad(32).zeros(100).bytes(),
    /beyond the end/,
  ],
  [
    "duplicate tensor",
    () => head(2, 0).tensor("a", [8], 0, 0).tensor("a", [8], 0, 32).pad(32).zeros(64).bytes(),
    /duplicate tensor name "a"/,
  ],
  ["kv count over a lower limit", () => sampleGguf(), /key\/value count 7 exceeds the limit of 3/, {
    limits: { maxKvCount: 3 },
  }],
  ["header over the limit", () => sampleGguf(), /header limit/, {
    limits: { maxHeaderBytes: 100 },
  }],
  [
    "string over a lower limit",
    () => sampleGguf(),
    /key of key\/value pair 0: string length 20 exceeds the limit of 4/,
    {
      limits: { maxStringBytes: 4 },
    },
  ],
];

Deno.test("readGgufHeader: every hostile header is GGUF_INVALID naming what and where", async () => {
  await withTempDir(async (dir) => {
    for (const [name, bytes, pattern, options] of CASES) {
      const path = `${dir}/case.gguf`;
      await Deno.writeFile(path, bytes());
      const e = await readGgufHeader(path, options).then(() => undefined, (e) => e);
      assert.ok(isLodeError(e, "GGUF_INVALID"), `${name}: ${e}`);
      assert.match(e.message, pattern, name);
      assert.match(e.message, /\(at offset \d+\)$/, name);
      assert.ok(e.message.startsWith(path), name);
      assert.equal(typeof e.details.offset, "number", name);
    }
  }, { prefix: "gguf-hostile-" });
});

Deno.test("readGgufHeader: a missing file is FILE_NOT_FOUND, a directory IO, neither GGUF_INVALID", async () => {
  await withTempDir(async (dir) => {
    const missing = await readGgufHeader(`${dir}/nope.gguf`).then(() => undefined, (e) => e);
    assert.ok(isLodeError(missing, "FILE_NOT_FOUND"), String(missing));
    assert.equal(missing.details.path, `${dir}/nope.gguf`);
    const directory = await readGgufHeader(dir).then(() => undefined, (e) => e);
    assert.ok(isLodeError(directory, "IO"), String(directory));
    assert.match(directory.message, /not a regular file/);
  });
});
