/**
 * Moves one range's body into the partial file: reads land straight in a batch buffer (lode's HTTP/1.1
 * client's direct reader; a `fetch` body goes through a small landing buffer), and each full batch is
 * offered to the hashing frontier, then written at the part's offset. Large batches (few connections) are written by an
 * asynchronous write while the next batch is read (the kernel's copy into the page cache runs on Deno's
 * blocking-task thread, not on the thread that decrypts and hashes); small ones (many connections) with a
 * synchronous write on this thread. The buffers come from a {@link BatchPool} and go back to it, so a
 * download holds one or two batches per connection whatever its size and number of parts.
 * @module
 */
import { takeDirectBody } from "./http1_client.ts";
import type { WaitClock } from "./wait_clock.ts";

/** The largest single write. */
const MAX_WRITE_BYTES = 1024 * 1024;

/** Reusable batch buffers of one size. */
export class BatchPool {
  readonly #free: ArrayBuffer[] = [];
  readonly batchBytes: number;

  constructor(batchBytes: number) {
    this.batchBytes = batchBytes;
  }

  take(): ArrayBuffer {
    return this.#free.pop() ?? new ArrayBuffer(this.batchBytes);
  }

  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength === this.batchBytes && !buffer.detached) this.#free.push(buffer);
  }
}

/** Bytes a BYOB read of a `fetch` body is offered at a time (it hands over 16 KiB pieces). */
const LANDING_BYTES = 64 * 1024;

/** A body read into the caller's views. */
interface BodySource {
  /** Reads into `view`: the bytes read, or null at the end of the body. */
  read(view: Uint8Array): Promise<number | null>;
  /** Stops reading (the body was not read to its end). */
  cancel(): Promise<void>;
}

/**
 * lode's HTTP/1.1 client reads straight into the batch. Any other body is read with a BYOB reader into a
 * landing buffer of its own and copied into the batch: a BYOB read takes its view's buffer, and one that
 * fails (an abort, a reset) never gives it back, which would lose the batch's earlier bytes with it.
 */
function sourceOf(body: ReadableStream<Uint8Array>): BodySource {
  const direct = takeDirectBody(body);
  if (direct) return direct;
  const reader = body.getReader({ mode: "byob" });
  let landing = new ArrayBuffer(LANDING_BYTES);
  return {
    read: async (view) => {
      const { value, done } = await reader.read(
        new Uint8Array(landing, 0, Math.min(view.length, LANDING_BYTES)),
      );
      if (value) landing = value.buffer as ArrayBuffer;
      if (done) return null;
      view.set(value!);
      return value!.length;
    },
    cancel: () => reader.cancel(),
  };
}

/** Options of {@link writeBody}. */
export interface WriteBodyOptions {
  /** Open for writing, positioned at the range's first byte. */
  file: Deno.FsFile;
  /** The range's first byte in the file (for `onBatch`). */
  offset: number;
  /** Bytes the body must have; more is an error (the caller's), reading stops there. */
  expected: number;
  pool: BatchPool;
  /** Called after every read with the body bytes received so far. */
  onRead?: (received: number) => void;
  /** Counts the time spent waiting for the body's bytes (the connection, not this thread, was the limit). */
  waited?: WaitClock;
  /** Sees each batch at its absolute file offset before it is written (the hashing frontier). */
  onBatch?: (bytes: Uint8Array, offset: number) => void;
  /** A batch reached the file: bytes of the body written so far. */
  onWritten?: (written: number) => void;
}

/** Batches at least this large are written in the background while the next one is read. */
const OVERLAP_MIN_BYTES = 1024 * 1024;

/**
 * Reads `body` to its end into `options.file`; returns the bytes received (more than expected stops early).
 * With batches of {@link OVERLAP_MIN_BYTES} or more (few connections, each as fast as this thread), a full
 * batch is hashed, then written by an asynchronous write (the kernel's copy runs on Deno's blocking-task
 * thread) while the next batch is read into a second buffer: at most one batch is being written at a time,
 * and `onWritten` reports it only once it is in the file. Smaller batches (many connections, each limited
 * by the path) are written synchronously and hold one buffer per connection.
 */
export async function writeBody(
  body: ReadableStream<Uint8Array>,
  options: WriteBodyOptions,
): Promise<number> {
  const { file, pool, expected, waited } = options;
  const overlap = pool.batchBytes >= OVERLAP_MIN_BYTES;
  const source = sourceOf(body);
  let buffer = pool.take();
  let filled = 0;
  let received = 0;
  /** Bytes handed to the file (queued), and bytes known to be in it. */
  let queued = 0;
  let written = 0;
  /** The batch being written in the background, its buffer, and its failure. */
  let pending: Promise<void> | null = null;
  let pendingBuffer: ArrayBuffer | null = null;
  let failure = null as { error: unknown } | null;
  const rethrow = () => {
    if (failure) throw failure.error;
  };
  const landed = (n: number) => {
    written += n;
    options.onWritten?.(written);
  };
  const flush = async () => {
    if (filled === 0) return;
    const bytes = new Uint8Array(buffer, 0, filled);
    options.onBatch?.(bytes, options.offset + queued);
    queued += filled;
    filled = 0;
    if (!overlap) {
      // Writes of at most 1 MiB: larger ones cost the kernel several times more to copy into the page cache.
      for (let at = 0; at < bytes.length;) {
        at += file.writeSync(bytes.subarray(at, Math.min(bytes.length, at + MAX_WRITE_BYTES)));
      }
      landed(bytes.length);
      return;
    }
    // One write at a time keeps the file's position in order and frees the other buffer.
    if (pending) await pending;
    rethrow();
    const free = pendingBuffer;
    pendingBuffer = buffer;
    pending = writeAll(file, bytes).then(() => landed(bytes.length), (error) => {
      failure = { error };
    });
    buffer = free ?? pool.take();
  };
  try {
    while (true) {
      rethrow();
      // One byte more than the range asks for would say the body is too long.
      const room = Math.min(buffer.byteLength - filled, expected - received + 1);
      const waiting = waited?.begin();
      let n: number | null;
      try {
        n = await source.read(new Uint8Array(buffer, filled, room));
        waiting?.();
      } catch (e) {
        waiting?.();
        // The bytes read before the body broke off (a reset, a stall, a cancel) are the range's next bytes:
        // they go to the file, so the next attempt or a resume starts after them.
        if (failure === null) await flush().catch(() => {});
        throw e;
      }
      if (n === null) break;
      filled += n;
      received += n;
      options.onRead?.(received);
      if (received > expected) {
        await source.cancel().catch(() => {});
        break;
      }
      if (filled === buffer.byteLength) await flush();
    }
    if (received <= expected) await flush();
    if (pending) await pending;
    rethrow();
    return received;
  } finally {
    // No buffer goes back to the pool while a write still reads it.
    if (pending) await pending;
    pool.give(buffer);
    if (pendingBuffer) pool.give(pendingBuffer);
  }
}

/** Writes every byte of `bytes` at the file's position, at most {@link MAX_WRITE_BYTES} per write. */
async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    at += await file.write(bytes.subarray(at, Math.min(bytes.length, at + MAX_WRITE_BYTES)));
  }
}
