/**
 * Writes a byte stream to a file in large batches, reading the next batch
 * while the previous one is written. {@link HashingWriter} adds SHA-256 on top
 * (a single-stream download, an import). The parallel download engine's ranges
 * use their own path (src/download/part_body.ts).
 *
 * Where the time goes (`scripts/bench_pull.ts`, docs/benchmarks.md): Deno hands
 * a response body over in 16 KiB chunks, and the default reader allocates a
 * fresh array for each (65,536 per GiB), seconds of time and tens of MB of
 * garbage per GiB. So {@link HashingWriter.pipeFrom}
 * reads with a BYOB reader straight into one of two large batch buffers; a full
 * batch is handed to `onBatch` (the hash) and then to a serial write chain while the next batch fills,
 * and the file is synced in the background every 256 MiB so the final `fsync`
 * before the commit is short. Memory stays at two batches whatever the size.
 * @module
 */
import { writeAll } from "./atomic_write.ts";

/**
 * Default batch size: the two buffers together fit a core's L2, so a batch is still in cache when it is hashed
 * and when the kernel copies it into the page cache (larger batches are slower: docs/benchmarks.md).
 */
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
  /** Size of each of the two batch buffers. */
  batchBytes?: number;
  /** Sync the file in the background every this many bytes (default 256 MiB; 0 never). */
  syncEveryBytes?: number;
  /** Called after each batch reaches the file, with the total bytes written so far. */
  onWritten?: (writtenBytes: number) => void;
  /** Sees every batch, in order, before it is written, with its offset from where writing began. */
  onBatch?: (bytes: Uint8Array, offset: number) => void;
}

/** Writes bytes in large batches at the file's current position, reading while the previous batch is written. */
export class BatchedFileWriter {
  readonly #file: Deno.FsFile;
  readonly #syncEvery: number;
  readonly #onWritten?: (writtenBytes: number) => void;
  readonly #onBatch?: (bytes: Uint8Array, offset: number) => void;
  #written = 0;
  #submitted = 0;
  readonly #buffers: ArrayBuffer[];
  /** The write of each buffer, awaited before the buffer is filled again. */
  readonly #inFlight: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
  #writes: Promise<void> = Promise.resolve();
  #syncs: Promise<void> = Promise.resolve();
  #active = 0;
  #filled = 0;
  #total = 0;
  #unsynced = 0;

  constructor(file: Deno.FsFile, options: BatchedFileWriterOptions = {}) {
    const batchBytes = options.batchBytes ?? WRITE_BATCH_BYTES;
    this.#file = file;
    this.#syncEvery = options.syncEveryBytes ?? SYNC_EVERY_BYTES;
    this.#onWritten = options.onWritten;
    this.#onBatch = options.onBatch;
    this.#buffers = [new ArrayBuffer(batchBytes), new ArrayBuffer(batchBytes)];
  }

  /** Bytes accepted so far (written or batched). */
  get bytes(): number {
    return this.#total;
  }

  /** Accepts a chunk (copied; the caller may reuse it at once). */
  async write(chunk: Uint8Array): Promise<void> {
    this.#total += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const batch = new Uint8Array(this.#buffers[this.#active]!);
      const take = Math.min(chunk.length - offset, batch.length - this.#filled);
      batch.set(chunk.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === batch.length) await this.#submit();
    }
  }

  /**
   * Reads `stream` to its end straight into the batch buffers (BYOB), falling
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
        const buffer = this.#buffers[this.#active]!;
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read(new Uint8Array(buffer, this.#filled, buffer.byteLength - this.#filled));
        } catch (e) {
          // The failed read kept the buffer (and the unwritten batch in it): start a fresh one.
          this.#buffers[this.#active] = new ArrayBuffer(buffer.byteLength);
          this.#filled = 0;
          throw e;
        }
        const { value, done } = result;
        if (value) {
          // The view's buffer was transferred to the stream and back: keep the new one.
          this.#buffers[this.#active] = value.buffer as ArrayBuffer;
          this.#filled += value.length;
          this.#total += value.length;
          options.onProgress?.(this.#total);
          if (this.#filled === value.buffer.byteLength) await this.#submit();
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
      await this.write(chunk);
      options.onProgress?.(this.#total);
      if (options.maxBytes !== undefined && this.#total > options.maxBytes) return;
    }
  }

  /** Writes what is left and waits for every write; with `sync`, also flushes the file to disk. */
  async close(options: { sync?: boolean } = {}): Promise<number> {
    if (this.#filled > 0) await this.#submit();
    await this.#writes;
    await this.#syncs;
    if (options.sync) await this.#file.sync();
    return this.#total;
  }

  /** Hands the active batch to `onBatch`, queues its write, and switches buffers once the other's write is done. */
  async #submit(): Promise<void> {
    const slot = this.#active;
    const bytes = new Uint8Array(this.#buffers[slot]!, 0, this.#filled);
    this.#onBatch?.(bytes, this.#submitted);
    this.#submitted += bytes.length;
    this.#writes = this.#writes.then(() => writeAll(this.#file, bytes)).then(() =>
      this.#afterWrite(bytes.length)
    );
    // A failed write surfaces where the chain is awaited (the next switch, or finish), never as unhandled.
    this.#writes.catch(() => {});
    this.#inFlight[slot] = this.#writes;
    this.#active = 1 - slot;
    this.#filled = 0;
    await this.#inFlight[this.#active];
  }

  #afterWrite(length: number): void {
    this.#written += length;
    this.#onWritten?.(this.#written);
    this.#unsynced += length;
    if (this.#syncEvery === 0 || this.#unsynced < this.#syncEvery) return;
    this.#unsynced = 0;
    // Flush written pages in the background: the final sync before the commit stays short.
    this.#syncs = this.#syncs.then(() => this.#file.sync());
    this.#syncs.catch(() => {});
  }
}
