/**
 * Moves one range's body into the partial file: reads land straight in a batch buffer (lode's HTTP/1.1
 * client's direct reader; a `fetch` body goes through a small landing buffer), and each full batch is offered
 * to the hashing frontier, then written at the part's offset by synchronous writes of at most 32 KiB on the
 * same thread (src/store/page_cache_write.ts says why that size). Batches are small (a few TLS records): the
 * bytes just decrypted are still in this core's cache when they are hashed and when the kernel copies them
 * into the page cache, which costs several times more from a batch that has left it (docs/benchmarks.md). The
 * buffers come from a {@link BatchPool} and go back to it, so a download holds one batch per connection
 * whatever its size and number of parts.
 * @module
 */
import { writeAllSync } from "../store/page_cache_write.ts";
import { takeDirectBody } from "./http1_client.ts";
import type { WaitClock } from "./wait_clock.ts";

/**
 * Bytes per batch: eight TLS records, hashed and written on the reading thread while still in the core's
 * cache (larger batches, or writes on another thread, cost more CPU: docs/benchmarks.md).
 */
export const BATCH_BYTES = 128 * 1024;

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

/**
 * Reads `body` to its end into `options.file`; returns the bytes received (more than expected stops early).
 * A full batch is offered to `onBatch` (the hash), then written; `onWritten` reports it once it is in the
 * file.
 */
export async function writeBody(
  body: ReadableStream<Uint8Array>,
  options: WriteBodyOptions,
): Promise<number> {
  const { file, pool, expected, waited } = options;
  const source = sourceOf(body);
  const buffer = pool.take();
  let filled = 0;
  let received = 0;
  let written = 0;
  const flush = () => {
    if (filled === 0) return;
    const bytes = new Uint8Array(buffer, 0, filled);
    options.onBatch?.(bytes, options.offset + written);
    filled = 0;
    writeAllSync(file, bytes);
    written += bytes.length;
    options.onWritten?.(written);
  };
  try {
    while (true) {
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
        try {
          flush();
        } catch { /* the read's error is the one to report */ }
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
      if (filled === buffer.byteLength) flush();
    }
    if (received <= expected) flush();
    return received;
  } finally {
    pool.give(buffer);
  }
}
