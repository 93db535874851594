/**
 * Writes a byte stream to a file while computing its SHA-256 — the bytes are
 * hashed as they land, so a finished download is already verified and never
 * read back. Small network chunks are gathered into one large buffer so both
 * the hash and the file see few, big calls (DESIGN.md: 8 MiB reads hash at
 * the SHA-NI limit).
 *
 * @example
 * ```ts
 * using file = await Deno.open(tmp, { write: true, create: true, truncate: true });
 * const writer = new HashingWriter(file);
 * for await (const chunk of body) await writer.write(chunk);
 * const { sha256, bytes } = await writer.finish();
 * ```
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { writeAll } from "./atomic_write.ts";

/** Default batch size: large enough for full-speed hashing, small enough for bounded memory. */
export const WRITE_BATCH_BYTES = 4 * 1024 * 1024;

/** Hashes and writes bytes in large batches. Not safe for concurrent `write` calls. */
export class HashingWriter {
  readonly #file: Deno.FsFile;
  readonly #hash: Hash = createHash("sha256");
  readonly #batch: Uint8Array;
  #filled = 0;
  #total = 0;

  constructor(file: Deno.FsFile, batchBytes: number = WRITE_BATCH_BYTES) {
    this.#file = file;
    this.#batch = new Uint8Array(batchBytes);
  }

  /** Bytes accepted so far (written or batched). */
  get bytes(): number {
    return this.#total;
  }

  /** Accepts a chunk; flushes to disk whenever the batch is full. */
  async write(chunk: Uint8Array): Promise<void> {
    this.#total += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(chunk.length - offset, this.#batch.length - this.#filled);
      if (take === this.#batch.length) {
        // A chunk at least as big as the batch: no copy.
        await this.#flushBytes(chunk.subarray(offset, offset + take));
      } else {
        this.#batch.set(chunk.subarray(offset, offset + take), this.#filled);
        this.#filled += take;
        if (this.#filled === this.#batch.length) await this.#flush();
      }
      offset += take;
    }
  }

  /** Flushes what is left, syncs the file to disk and returns the digest. */
  async finish(): Promise<{ sha256: string; bytes: number }> {
    await this.#flush();
    await this.#file.sync();
    return { sha256: this.#hash.digest("hex"), bytes: this.#total };
  }

  async #flush(): Promise<void> {
    if (this.#filled === 0) return;
    await this.#flushBytes(this.#batch.subarray(0, this.#filled));
    this.#filled = 0;
  }

  async #flushBytes(bytes: Uint8Array): Promise<void> {
    this.#hash.update(bytes);
    await writeAll(this.#file, bytes);
  }
}
