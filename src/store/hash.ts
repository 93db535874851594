/**
 * SHA-256 helpers. `node:crypto` is used rather than Web Crypto: it streams and
 * is several times faster (docs/benchmarks.md).
 *
 * @example
 * ```ts
 * import { digestsEqual, sha256File } from "./hash.ts";
 * const expected = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
 * const hex = await sha256File("tests/fixtures/stories260K.gguf");
 * if (!digestsEqual(hex, expected)) throw new Error(`sha256 is ${hex}`);
 * ```
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** Read size for hashing files: large reads keep the hash core busy. */
export const HASH_READ_BYTES = 8 * 1024 * 1024;

/** Options of {@link sha256File}. */
export interface Sha256FileOptions {
  /** Called with the number of bytes hashed so far, after each read. */
  onProgress?: (hashedBytes: number) => void;
  signal?: AbortSignal;
}

/** Streams a file through SHA-256 and returns the lowercase hex digest. */
export async function sha256File(path: string, options: Sha256FileOptions = {}): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(HASH_READ_BYTES);
  let total = 0;
  while (true) {
    options.signal?.throwIfAborted();
    const n = await readFull(file, buf);
    if (n === 0) break;
    hash.update(n === buf.length ? buf : buf.subarray(0, n));
    total += n;
    options.onProgress?.(total);
    if (n < buf.length) break;
  }
  return hash.digest("hex");
}

/**
 * Reads until `buf` is full or the file ends; returns the bytes read (fewer than `buf.length` only at
 * the end). `await readFull(file, new Uint8Array(8 << 20))`
 */
export async function readFull(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < buf.length) {
    const n = await file.read(buf.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

/** SHA-256 of bytes in memory, lowercase hex. */
export function sha256Bytes(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Constant-time comparison of two hex digests. Different lengths are simply unequal. */
export function digestsEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a.toLowerCase());
  const y = new TextEncoder().encode(b.toLowerCase());
  return x.length === y.length && timingSafeEqual(x, y);
}
