/**
 * NDJSON over one stream connection (a Unix socket): a bounded line reader
 * and a serialised, backpressure-aware frame writer.
 *
 * Reading: {@link NdjsonConnection.lines} yields each complete line as bytes
 * (without `\n` or a trailing `\r`; empty lines are skipped). A line longer
 * than `maxLineBytes` yields one `too_large` item (with the line's first
 * bytes, to read an id from) as soon as the limit is passed; the rest of that
 * line is read and discarded, so memory stays bounded and the connection stays
 * usable for the next line. Bytes after the last `\n` at end of stream (a
 * client that did not end its last line) are yielded with `terminated: false`.
 *
 * Writing: frames from any number of concurrent producers go through one
 * queue, and each frame is written whole, so lines never interleave. Queued
 * frames are coalesced into one write. {@link NdjsonConnection.send}
 * resolves once the kernel has taken the frame (await it to be paced by a
 * slow reader); {@link NdjsonConnection.enqueue} does not wait, and
 * {@link NdjsonConnection.pendingFrames} says how far behind the peer is.
 * Once the peer is gone, sends resolve `false` instead of throwing.
 *
 * @example
 * ```ts
 * const conn = new NdjsonConnection(await listener.accept(), { maxLineBytes: 1 << 20 });
 * for await (const item of conn.lines()) {
 *   if (item.type === "too_large") await conn.send({ id: null, type: "error", code: "FRAME_TOO_LARGE" });
 *   else await conn.send({ echo: new TextDecoder().decode(item.bytes) });
 * }
 * ```
 * @module
 */
import { DEFAULT_MAX_FRAME_BYTES } from "./protocol.ts";

/** One item read from the connection. */
export type InboundLine =
  | {
    type: "line";
    /** The line's bytes, without its `\n` (and a `\r` before it). A copy: keep it as long as needed. */
    bytes: Uint8Array;
    /** False for bytes that ended the stream without a final `\n`. */
    terminated: boolean;
  }
  | {
    type: "too_large";
    /** The limit that was passed. */
    limit: number;
    /** The line's first bytes (at most {@link PREFIX_BYTES}), decoded leniently, to read an id from. */
    prefix: string;
  };

/** Bytes of an oversized line kept for {@link InboundLine} `prefix`. */
export const PREFIX_BYTES = 1024;

/** Options of {@link NdjsonConnection}. */
export interface NdjsonConnectionOptions {
  /** Longest accepted line in bytes. Default {@link DEFAULT_MAX_FRAME_BYTES}. */
  maxLineBytes?: number;
  /** Size of the read buffer. Default 64 KiB. */
  readBufferBytes?: number;
  /** Largest single write when coalescing queued frames. Default 256 KiB. */
  maxBatchBytes?: number;
}

interface Pending {
  bytes: Uint8Array;
  resolve: ((written: boolean) => void) | null;
}

const NEWLINE = 10;
const CR = 13;
const encoder = new TextEncoder();
const lenient = new TextDecoder();

/** A bounded NDJSON reader and serialised writer over one `Deno.Conn`. */
export class NdjsonConnection {
  readonly #conn: Deno.Conn;
  readonly #maxLine: number;
  readonly #readBuffer: number;
  readonly #maxBatch: number;
  readonly #queue: Pending[] = [];
  #head = 0;
  #pendingBytes = 0;
  #writing = false;
  #closed = false;
  #flushWaiters: (() => void)[] = [];
  readonly #whenClosed: PromiseWithResolvers<void> = Promise.withResolvers();

  constructor(conn: Deno.Conn, options: NdjsonConnectionOptions = {}) {
    this.#conn = conn;
    this.#maxLine = options.maxLineBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#readBuffer = options.readBufferBytes ?? 64 * 1024;
    this.#maxBatch = options.maxBatchBytes ?? 256 * 1024;
  }

  /** True once the connection is closed (by {@link close}, {@link end} or a failed write). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Settles when the connection is closed. */
  get whenClosed(): Promise<void> {
    return this.#whenClosed.promise;
  }

  /** Frames queued and not yet taken by the kernel. */
  get pendingFrames(): number {
    return this.#queue.length - this.#head;
  }

  /** Bytes queued and not yet taken by the kernel. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * The lines the peer sends, until it ends its side or the connection is
   * closed (read errors such as a reset end the iteration too). Iterate once.
   */
  async *lines(): AsyncGenerator<InboundLine> {
    const buffer = new Uint8Array(this.#readBuffer);
    let parts: Uint8Array[] = [];
    let partBytes = 0;
    let discarding = false;
    while (true) {
      let n: number | null;
      try {
        n = await this.#conn.read(buffer);
      } catch {
        n = null; // reset, or closed by us: the end of input either way
      }
      if (n === null) break;
      let start = 0;
      while (start < n) {
        const nl = buffer.subarray(0, n).indexOf(NEWLINE, start);
        const end = nl === -1 ? n : nl;
        if (discarding) {
          if (nl === -1) break;
          discarding = false;
          start = nl + 1;
          continue;
        }
        if (partBytes + (end - start) > this.#maxLine) {
          const prefix = concat([...parts, buffer.subarray(start, end)], PREFIX_BYTES);
          parts = [];
          partBytes = 0;
          yield { type: "too_large", limit: this.#maxLine, prefix: lenient.decode(prefix) };
          if (nl === -1) {
            discarding = true;
            break;
          }
          start = nl + 1;
          continue;
        }
        if (nl === -1) {
          parts.push(buffer.slice(start, n));
          partBytes += n - start;
          break;
        }
        let line = parts.length === 0
          ? buffer.slice(start, nl)
          : concat([...parts, buffer.subarray(start, nl)]);
        parts = [];
        partBytes = 0;
        start = nl + 1;
        if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
        if (line.length > 0) yield { type: "line", bytes: line, terminated: true };
      }
    }
    if (!discarding && partBytes > 0) {
      let line = concat(parts);
      if (line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      if (line.length > 0) yield { type: "line", bytes: line, terminated: false };
    }
  }

  /**
   * Queues `frame` as one JSON line; resolves `true` once the kernel has
   * taken it, `false` if the connection closed first. Never rejects.
   */
  send(frame: unknown): Promise<boolean> {
    return this.sendBytes(encoder.encode(JSON.stringify(frame) + "\n"));
  }

  /** {@link send} for a line already encoded (it must end with `\n`). */
  sendBytes(line: Uint8Array): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => this.#push({ bytes: line, resolve }));
  }

  /** Queues an encoded line without waiting for it; false if the connection is closed. */
  enqueue(line: Uint8Array): boolean {
    if (this.#closed) return false;
    this.#push({ bytes: line, resolve: null });
    return true;
  }

  /** Resolves when every queued frame was written (or the connection closed). */
  flush(): Promise<void> {
    if (!this.#writing || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  /** Writes what is queued, then closes. */
  async end(): Promise<void> {
    await this.flush();
    this.close();
  }

  /** Closes now: queued frames are dropped (their sends resolve `false`) and {@link lines} ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    for (let i = this.#head; i < this.#queue.length; i++) this.#queue[i]!.resolve?.(false);
    this.#queue.length = 0;
    this.#head = 0;
    this.#pendingBytes = 0;
    this.#wakeFlushWaiters();
    this.#whenClosed.resolve();
  }

  #push(item: Pending): void {
    this.#queue.push(item);
    this.#pendingBytes += item.bytes.length;
    if (!this.#writing) {
      // Start on a microtask: frames queued in the same tick (a result and its `done`) go out in one write.
      this.#writing = true;
      queueMicrotask(() => void this.#pump());
    }
  }

  async #pump(): Promise<void> {
    try {
      while (!this.#closed && this.#head < this.#queue.length) {
        const first = this.#head;
        let bytes = this.#queue[first]!.bytes.length;
        let last = first + 1;
        while (last < this.#queue.length && bytes + this.#queue[last]!.bytes.length <= this.#maxBatch) {
          bytes += this.#queue[last]!.bytes.length;
          last++;
        }
        const batch = last - first === 1
          ? this.#queue[first]!.bytes
          : concat(this.#queue.slice(first, last).map((p) => p.bytes));
        await writeAll(this.#conn, batch);
        if (this.#closed) return;
        for (let i = first; i < last; i++) this.#queue[i]!.resolve?.(true);
        this.#head = last;
        this.#pendingBytes -= bytes;
        if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue.splice(0, this.#head);
          this.#head = 0;
        }
      }
    } catch {
      this.close(); // the peer is gone (broken pipe, reset): nothing more can be written
    } finally {
      this.#writing = false;
      if (this.#head >= this.#queue.length) {
        this.#queue.length = 0;
        this.#head = 0;
      }
      this.#wakeFlushWaiters();
    }
  }

  #wakeFlushWaiters(): void {
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const wake of waiters) wake();
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** The concatenation of `chunks`, cut at `limit` bytes when given. */
function concat(chunks: Uint8Array[], limit = Infinity): Uint8Array {
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(Math.min(total, limit));
  let offset = 0;
  for (const c of chunks) {
    if (offset >= out.length) break;
    const take = c.subarray(0, out.length - offset);
    out.set(take, offset);
    offset += take.length;
  }
  return out;
}
