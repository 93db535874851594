/**
 * Writes a byte stream to a file in batches. {@link HashingWriter} adds SHA-256 on top (a single-stream
 * download, an import). The parallel download engine's ranges use their own path (src/download/part_body.ts).
 *
 * Where the time goes (`scripts/bench_pull.ts`, docs/benchmarks.md): Deno hands a response body over in
 * 16 KiB chunks, and the default reader allocates a fresh array for each (65,536 per GiB), seconds of time and
 * tens of MB of garbage per GiB. So {@link BatchedFileWriter.pipeFrom} reads with a BYOB reader straight into
 * one batch buffer; a full batch is handed to `onBatch` (the hash) and then written on the same thread by
 * synchronous writes of at most 32 KiB (src/store/page_cache_write.ts: larger writes, or writes by Deno's
 * blocking-task thread, cost more), and the file is synced in the background every 256 MiB so the final
 * `fsync` before the commit is short. Memory stays at one batch whatever the size.
 * @module
 */
import { writeAllSync } from "./page_cache_write.ts";

/** Default batch size: bytes read (and hashed) at a time, still in a core's L2 when they are written. */
export const WRITE_BATCH_BYTES = 512 * 1024;

/** Bytes written between background syncs. */
const SYNC_EVERY_BYTES = 256 * 1024 * 1024;

/** Options of {@link HashingWriter.pipeFrom}. */
export interface PipeOptions {
  /** Called after every read with the total number of bytes accepted so far. */
  onProgress?: (bytes: number) => void;
  /** Stop reading (and cancel the stream) once more than this many bytes arrived. */
  maxBytes?: number;
}

/** Options of {@link BatchedFileWriter}. */
export interface BatchedFileWriterOptions {
  /** Size of the batch buffer (default {@link WRITE_BATCH_BYTES}). */
  batchBytes?: number;
  /** Sync the file in the background every this many bytes (default 256 MiB; 0 never). */
  syncEveryBytes?: number;
  /** Called after each batch reaches the file, with the total bytes written so far. */
  onWritten?: (writtenBytes: number) => void;
  /** Sees every batch, in order, before it is written, with its offset from where writing began. */
  onBatch?: (bytes: Uint8Array, offset: number) => void;
}

/** Writes bytes in batches at the file's current position. */
export class BatchedFileWriter {
  readonly #file: Deno.FsFile;
  readonly #syncEvery: number;
  readonly #onWritten?: (writtenBytes: number) => void;
  readonly #onBatch?: (bytes: Uint8Array, offset: number) => void;
  #buffer: ArrayBuffer;
  #filled = 0;
  #total = 0;
  #written = 0;
  #unsynced = 0;
  #syncs: Promise<void> = Promise.resolve();

  constructor(file: Deno.FsFile, options: BatchedFileWriterOptions = {}) {
    this.#file = file;
    this.#syncEvery = options.syncEveryBytes ?? SYNC_EVERY_BYTES;
    this.#onWritten = options.onWritten;
    this.#onBatch = options.onBatch;
    this.#buffer = new ArrayBuffer(options.batchBytes ?? WRITE_BATCH_BYTES);
  }

  /** Bytes accepted so far (written or batched). */
  get bytes(): number {
    return this.#total;
  }

  /** Accepts a chunk (copied; the caller may reuse it at once), writing each batch it fills. */
  write(chunk: Uint8Array): void {
    this.#total += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const batch = new Uint8Array(this.#buffer);
      const take = Math.min(chunk.length - offset, batch.length - this.#filled);
      batch.set(chunk.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === batch.length) this.#flush();
    }
  }

  /**
   * Reads `stream` to its end straight into the batch buffer (BYOB), falling
   * back to {@link write} per chunk for streams without BYOB support.
   */
  async pipeFrom(stream: ReadableStream<Uint8Array>, options: PipeOptions = {}): Promise<void> {
    let reader: ReadableStreamBYOBReader;
    try {
      reader = stream.getReader({ mode: "byob" });
    } catch {
      return await this.#pipeChunks(stream, options);
    }
    try {
      while (true) {
        const buffer = this.#buffer;
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read(new Uint8Array(buffer, this.#filled, buffer.byteLength - this.#filled));
        } catch (e) {
          // The failed read kept the buffer (and the unwritten batch in it): start a fresh one.
          this.#buffer = new ArrayBuffer(buffer.byteLength);
          this.#filled = 0;
          throw e;
        }
        const { value, done } = result;
        if (value) {
          // The view's buffer was transferred to the stream and back: keep the new one.
          this.#buffer = value.buffer as ArrayBuffer;
          this.#filled += value.length;
          this.#total += value.length;
          options.onProgress?.(this.#total);
          if (this.#filled === this.#buffer.byteLength) this.#flush();
        }
        if (done) return;
        if (options.maxBytes !== undefined && this.#total > options.maxBytes) {
          await reader.cancel();
          return;
        }
      }
    } finally {
      reader.releaseLock();
    }
  }

  async #pipeChunks(stream: ReadableStream<Uint8Array>, options: PipeOptions): Promise<void> {
    for await (const chunk of stream) {
      this.write(chunk);
      options.onProgress?.(this.#total);
      if (options.maxBytes !== undefined && this.#total > options.maxBytes) return;
    }
  }

  /** Writes what is left and waits for the background syncs; with `sync`, also flushes the file to disk. */
  async close(options: { sync?: boolean } = {}): Promise<number> {
    this.#flush();
    await this.#syncs;
    if (options.sync) await this.#file.sync();
    return this.#total;
  }

  /** Hands the batch to `onBatch`, writes it, and starts a background sync every `syncEveryBytes`. */
  #flush(): void {
    if (this.#filled === 0) return;
    const bytes = new Uint8Array(this.#buffer, 0, this.#filled);
    this.#onBatch?.(bytes, this.#written);
    this.#filled = 0;
    writeAllSync(this.#file, bytes);
    this.#written += bytes.length;
    this.#onWritten?.(this.#written);
    this.#unsynced += bytes.length;
    if (this.#syncEvery === 0 || this.#unsynced < this.#syncEvery) return;
    this.#unsynced = 0;
    // Flush written pages in the background: the final sync before the commit stays short.
    this.#syncs = this.#syncs.then(() => this.#file.sync());
    this.#syncs.catch(() => {});
  }
}
