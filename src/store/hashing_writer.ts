/**
 * Writes a byte stream to a file while computing its SHA-256 — the bytes are
 * hashed as they land, so a finished download is already verified and never
 * read back. Batching, BYOB reads and the writes are {@link BatchedFileWriter}'s.
 *
 * @example
 * ```ts
 * const response = await fetch("https://127.0.0.1:8443/m.gguf");
 * using file = await Deno.open("/tmp/m.gguf.tmp", { write: true, create: true, truncate: true });
 * const writer = new HashingWriter(file);
 * await writer.pipeFrom(response.body!, { onProgress: (n) => console.log(`${n} bytes`) });
 * const { sha256, bytes } = await writer.finish();
 * ```
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { BatchedFileWriter } from "./batched_file_writer.ts";

/** A {@link BatchedFileWriter} that hashes every batch before writing it. */
export class HashingWriter extends BatchedFileWriter {
  readonly #hash: Hash;

  constructor(file: Deno.FsFile, batchBytes?: number) {
    const hash = createHash("sha256");
    super(file, { batchBytes, onBatch: (bytes) => hash.update(bytes) });
    this.#hash = hash;
  }

  /** Writes what is left, syncs the file to disk and returns the digest and the byte count. */
  async finish(): Promise<{ sha256: string; bytes: number }> {
    const bytes = await this.close({ sync: true });
    return { sha256: this.#hash.digest("hex"), bytes };
  }
}
