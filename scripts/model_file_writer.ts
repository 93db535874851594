/**
 * The generator's output writer (scripts only): a double-buffered file writer that hashes what it writes
 * and lets the generator fill its buffer in place (`generate`), so a 1 GiB model is written without copying
 * each weight block. Unlike src/store/hashing_writer.ts (which takes finished bytes), the caller produces
 * the bytes straight into the writer's words.
 *
 * @example
 * ```ts
 * import { ModelFileWriter } from "./model_file_writer.ts";
 * using file = await Deno.open("/tmp/x.bin", { write: true, create: true, truncate: true });
 * const w = new ModelFileWriter(file);
 * await w.bytes(new Uint8Array([1, 2, 3, 4]));
 * await w.generate(8, (words, at, count) => words.fill(7, at, at + count));
 * await w.close();
 * console.log(w.digest());
 * ```
 * @module
 */
import { createHash } from "node:crypto";

const BUFFER_BYTES = 16 * 1024 * 1024;

/**
 * Buffered file writer that hashes everything it writes. Double-buffered: while one buffer is being
 * written (Deno does file I/O off the JS thread) the next is filled and hashed.
 */
export class ModelFileWriter {
  buf = new Uint8Array(BUFFER_BYTES);
  words = new Uint32Array(this.buf.buffer);
  private spare = new Uint8Array(BUFFER_BYTES);
  private pending: Promise<void> = Promise.resolve();
  pos = 0;
  written = 0;
  private readonly hash = createHash("sha256");
  constructor(private readonly file: Deno.FsFile) {}
  async flush(): Promise<void> {
    const chunk = this.buf.subarray(0, this.pos);
    this.hash.update(chunk);
    await this.pending;
    this.pending = (async () => {
      for (let off = 0; off < chunk.byteLength;) off += await this.file.write(chunk.subarray(off));
    })();
    this.written += this.pos;
    this.pos = 0;
    [this.buf, this.spare] = [this.spare, this.buf];
    this.words = new Uint32Array(this.buf.buffer);
  }
  /** Waits for the last write. */
  async close(): Promise<void> {
    await this.flush();
    await this.pending;
  }
  /** Waits for any in-flight write, ignoring its failure (used on the error path before closing). */
  async settle(): Promise<void> {
    await this.pending.catch(() => {});
  }
  async bytes(b: Uint8Array): Promise<void> {
    for (let off = 0; off < b.byteLength;) {
      if (this.pos === this.buf.byteLength) await this.flush();
      const n = Math.min(b.byteLength - off, this.buf.byteLength - this.pos);
      this.buf.set(b.subarray(off, off + n), this.pos);
      this.pos += n;
      off += n;
    }
  }
  /** Appends `n` bytes produced by `fill(words, wordStart, wordCount)`; `n` and `pos` are 4-aligned. */
  async generate(n: number, fill: (words: Uint32Array, at: number, count: number) => void): Promise<void> {
    while (n > 0) {
      if (this.pos === this.buf.byteLength) await this.flush();
      const take = Math.min(n, this.buf.byteLength - this.pos);
      fill(this.words, this.pos / 4, take / 4);
      this.pos += take;
      n -= take;
    }
  }
  digest(): string {
    return this.hash.digest("hex");
  }
}
