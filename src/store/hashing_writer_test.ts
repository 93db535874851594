import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { WRITE_BATCH_BYTES } from "./batched_file_writer.ts";
import { HashingWriter } from "./hashing_writer.ts";

const BATCH = 1000;

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return bytes;
}

/** Splits `bytes` into chunks of the given sizes (cycled) until it is used up. */
function split(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; offset < bytes.length || sizes[i % sizes.length] === 0; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(bytes.subarray(offset, offset + size));
    offset += size;
    if (i > 10 * bytes.length + 10) throw new Error("bad sizes");
  }
  return chunks;
}

async function writeChunks(
  chunks: Iterable<Uint8Array>,
  batchBytes = BATCH,
): Promise<{ sha256: string; bytes: number; file: Uint8Array }> {
  const dir = await Deno.makeTempDir({ prefix: "lode-hw-" });
  try {
    const path = `${dir}/out`;
    let result: { sha256: string; bytes: number };
    {
      using file = await Deno.open(path, { write: true, create: true, truncate: true });
      const writer = new HashingWriter(file, batchBytes);
      let accepted = 0;
      for (const chunk of chunks) {
        writer.write(chunk);
        accepted += chunk.length;
        assert.equal(writer.bytes, accepted);
      }
      result = await writer.finish();
    }
    return { ...result, file: await Deno.readFile(path) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function assertSameAsWhole(input: Uint8Array, chunks: Uint8Array[], label: string): Promise<void> {
  const out = await writeChunks(chunks);
  assert.equal(out.bytes, input.length, label);
  assert.equal(out.file.length, input.length, label);
  assert.ok(out.file.every((b, i) => b === input[i]), `${label}: file bytes differ`);
  assert.equal(out.sha256, createHash("sha256").update(input).digest("hex"), label);
}

Deno.test("HashingWriter: the default batch is 512 KiB", () => {
  assert.equal(WRITE_BATCH_BYTES, 512 * 1024);
});

Deno.test("HashingWriter: every chunk pattern gives the bytes and sha256 of the whole input", async () => {
  const input = randomBytes(5 * BATCH + 17);
  const patterns: Record<string, number[]> = {
    "1-byte chunks": [1],
    "7-byte chunks": [7],
    "chunks straddling the batch boundary": [333],
    "just under / just over the batch": [999, 1002],
    "exactly one batch": [BATCH],
    "one chunk larger than the batch": [2500],
    "batch-sized after a partial batch": [1, BATCH, BATCH + 1],
    "zero-length chunks in between": [0, 400, 0, 0, 700, 0],
    "the whole input at once": [input.length],
  };
  for (const [label, sizes] of Object.entries(patterns)) {
    await assertSameAsWhole(input, split(input, sizes), label);
  }
});

Deno.test("HashingWriter: sizes that are exact multiples of the batch", async () => {
  for (const length of [BATCH, 3 * BATCH]) {
    const input = randomBytes(length);
    await assertSameAsWhole(input, split(input, [10]), `${length} in 10s`);
    await assertSameAsWhole(input, [input], `${length} at once`);
  }
});

Deno.test("HashingWriter: no bytes at all, and only empty chunks", async () => {
  const empty = new Uint8Array();
  await assertSameAsWhole(empty, [], "no chunks");
  await assertSameAsWhole(empty, [empty, empty, empty], "empty chunks");
});

Deno.test("HashingWriter: the caller may reuse its buffer once write() resolves", async () => {
  const input = randomBytes(4 * BATCH + 123);
  const reused = new Uint8Array(1500);
  const chunks = split(input, [300, 1500, 1, 1200]);
  async function* viaOneBuffer(): AsyncGenerator<Uint8Array> {
    for (const c of chunks) {
      reused.set(c);
      yield reused.subarray(0, c.length);
      reused.fill(0xee); // scribble over it, as a BYOB reader would
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "lode-hw-" });
  try {
    let result: { sha256: string; bytes: number };
    {
      using file = await Deno.open(`${dir}/out`, { write: true, create: true });
      const writer = new HashingWriter(file, BATCH);
      for await (const chunk of viaOneBuffer()) writer.write(chunk);
      result = await writer.finish();
    }
    const written = await Deno.readFile(`${dir}/out`);
    assert.equal(result.sha256, createHash("sha256").update(input).digest("hex"));
    assert.equal(createHash("sha256").update(written).digest("hex"), result.sha256);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function pipe(
  stream: ReadableStream<Uint8Array>,
  options: { maxBytes?: number } = {},
): Promise<{ sha256: string; bytes: number; file: Uint8Array; progress: number[] }> {
  const dir = await Deno.makeTempDir({ prefix: "lode-hw-" });
  try {
    const progress: number[] = [];
    let result: { sha256: string; bytes: number };
    {
      using file = await Deno.open(`${dir}/out`, { write: true, create: true, truncate: true });
      const writer = new HashingWriter(file, BATCH);
      await writer.pipeFrom(stream, { onProgress: (n) => progress.push(n), ...options });
      result = await writer.finish();
    }
    return { ...result, file: await Deno.readFile(`${dir}/out`), progress };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("pipeFrom reads a byte stream (BYOB) into the batches: same bytes and digest", async () => {
  const input = randomBytes(10 * BATCH + 123);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/in`, input);
    const src = await Deno.open(`${dir}/in`);
    const r = await pipe(src.readable);
    assert.deepEqual(r.file, input);
    assert.equal(r.sha256, createHash("sha256").update(input).digest("hex"));
    assert.equal(r.progress.at(-1), input.length);
    assert.ok(r.progress.every((n, i) => i === 0 || n >= r.progress[i - 1]!));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pipeFrom falls back to chunks for a stream without BYOB, and stops past maxBytes", async () => {
  const input = randomBytes(5 * BATCH + 7);
  const chunks = split(input, [333, 1, 2048]);
  const plain = () => ReadableStream.from(chunks);
  const r = await pipe(plain());
  assert.deepEqual(r.file, input);
  const limited = await pipe(plain(), { maxBytes: 2 * BATCH });
  assert.ok(limited.bytes > 2 * BATCH && limited.bytes < input.length, String(limited.bytes));
});
