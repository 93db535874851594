/**
 * NDJSON over one stream connection (a Unix socket): a bounded line reader
 * and a serialised, backpressure-aware frame writer.
 *
 * Reading: {@link NdjsonConnection.lines} yields each complete line as bytes
 * (without `\n` or a trailing `\r`; empty lines are skipped), a view into the
 * read buffer where it can be: valid until the next item is asked for. A line longer
 * than `maxLineBytes` yields one `too_large` item (with the line's first
 * bytes, to read an id from) as soon as the limit is passed; the rest of that
 * line is read and discarded, so memory stays bounded and the connection stays
 * usable for the next line. Bytes after the last `\n` at end of stream (a
 * client that did not end its last line) are yielded with `terminated: false`.
 *
 * Writing: frames from any number of concurrent producers go through one
 * queue, and each frame is written whole, so lines never interleave. Queued
 * frames are coalesced into one write. A line may be queued as text: it is
 * encoded straight into the connection's write buffer, so answering a
 * request allocates no buffer of its own (each buffer outside the JS heap
 * costs a zeroed `calloc` and a `free` on a GC thread, under load more than
 * the rest of the framing). {@link NdjsonConnection.send}
 * resolves once the kernel has taken the frame (await it to be paced by a
 * slow reader); {@link NdjsonConnection.enqueue} does not wait, and
 * {@link NdjsonConnection.pendingFrames} says how far behind the peer is.
 * Once the peer is gone, sends resolve `false` instead of throwing.
 * @module
 */
import { DEFAULT_MAX_FRAME_BYTES } from "./protocol.ts";

/** One item read from the connection. */
export type InboundLine =
  | {
    type: "line";
    /**
     * The line's bytes, without its `\n` (and a `\r` before it). Often a view into the read buffer:
     * valid until the next item is asked for. Decode it (or `slice()` it) before then.
     */
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

/** The read buffer's first size (see {@link NdjsonConnectionOptions.readBufferBytes}). */
const FIRST_READ_BYTES = 4096;

/** Bytes of an oversized line kept for {@link InboundLine} `prefix`. */
export const PREFIX_BYTES = 1024;

/** Options of {@link NdjsonConnection}. */
export interface NdjsonConnectionOptions {
  /** Longest accepted line in bytes. Default {@link DEFAULT_MAX_FRAME_BYTES}. */
  maxLineBytes?: number;
  /**
   * Largest read buffer. Reads start with 4 KiB (requests are small; many connections stay mostly idle)
   * and the buffer doubles, up to this, each time a read fills it. Default 64 KiB.
   */
  readBufferBytes?: number;
  /** Largest single write when coalescing queued frames. Default 256 KiB. */
  maxBatchBytes?: number;
  /**
   * Largest write buffer kept for the connection's life (text lines are encoded into it, queued lines
   * coalesced in it); a batch that may need more gets a buffer of its own. Default 16 KiB; 0 keeps none
   * (many mostly idle connections that are sent shared bytes: the admin stream).
   */
  writeBufferBytes?: number;
}

interface Pending {
  /** An encoded line, or one still to encode (JSON text is encoded into the write buffer). */
  line: Uint8Array | string;
  /** Its size in bytes, or in UTF-16 units while it is text (exact for ASCII). */
  size: number;
  resolve: ((written: boolean) => void) | null;
}

/** The write buffer's first size; it grows as batches need, up to `writeBufferBytes`. */
const FIRST_BUFFER_BYTES = 4096;

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
  readonly #maxWriteBuffer: number;
  readonly #queue: Pending[] = [];
  #head = 0;
  #pendingBytes = 0;
  #writing = false;
  #closed = false;
  #flushWaiters: (() => void)[] = [];
  #writeBuffer: Uint8Array | null = null;
  readonly #whenClosed: PromiseWithResolvers<void> = Promise.withResolvers();

  constructor(conn: Deno.Conn, options: NdjsonConnectionOptions = {}) {
    this.#conn = conn;
    this.#maxLine = options.maxLineBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#readBuffer = options.readBufferBytes ?? 64 * 1024;
    this.#maxBatch = options.maxBatchBytes ?? 256 * 1024;
    this.#maxWriteBuffer = options.writeBufferBytes ?? 16 * 1024;
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

  /** Bytes queued and not yet taken by the kernel (lines queued as text: their length, exact for ASCII). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * The lines the peer sends, until it ends its side or the connection is
   * closed (read errors such as a reset end the iteration too). Iterate once.
   */
  async *lines(): AsyncGenerator<InboundLine> {
    let buffer = new Uint8Array(Math.min(FIRST_READ_BYTES, this.#readBuffer));
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
      const read = buffer.subarray(0, n);
      const full = n === buffer.length;
      let start = 0;
      while (start < n) {
        const nl = read.indexOf(NEWLINE, start);
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
          parts.push(buffer.slice(start, n)); // a copy: the next read overwrites the buffer
          partBytes += n - start;
          break;
        }
        let line = parts.length === 0
          ? buffer.subarray(start, nl) // no copy: the consumer is done with it before the next read
          : concat([...parts, buffer.subarray(start, nl)]);
        parts = [];
        partBytes = 0;
        start = nl + 1;
        if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
        if (line.length > 0) yield { type: "line", bytes: line, terminated: true };
      }
      // The lines of this read are consumed: a bigger buffer can take the next one.
      if (full && buffer.length < this.#readBuffer) {
        buffer = new Uint8Array(Math.min(buffer.length * 2, this.#readBuffer));
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
    if (this.#closed) return Promise.resolve(false);
    const line = JSON.stringify(frame) + "\n";
    return new Promise((resolve) => this.#push({ line, size: line.length, resolve }));
  }

  /**
   * Queues a line (text or bytes, ending with `\n`) without waiting for it; false if the connection is
   * closed. Bytes are written as they are (one encoding shared by many connections); text is encoded
   * into this connection's write buffer.
   */
  enqueue(line: string | Uint8Array): boolean {
    if (this.#closed) return false;
    this.#push({ line, size: line.length, resolve: null });
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
    this.#pendingBytes += item.size;
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
        let size = this.#queue[first]!.size;
        let last = first + 1;
        while (last < this.#queue.length && size + this.#queue[last]!.size <= this.#maxBatch) {
          size += this.#queue[last]!.size;
          last++;
        }
        const only = this.#queue[first]!.line;
        await writeAll(
          this.#conn,
          last - first === 1 && typeof only !== "string" ? only : this.#fill(first, last),
        );
        if (this.#closed) return;
        for (let i = first; i < last; i++) this.#queue[i]!.resolve?.(true);
        this.#head = last;
        this.#pendingBytes -= size;
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

  /** Queued lines `first` to `last` (exclusive) as one run of bytes: in the write buffer when they fit. */
  #fill(first: number, last: number): Uint8Array {
    let most = 0; // UTF-8 takes at most 3 bytes per UTF-16 unit
    for (let i = first; i < last; i++) {
      const line = this.#queue[i]!.line;
      most += typeof line === "string" ? line.length * 3 : line.length;
    }
    if (most > this.#maxWriteBuffer) {
      const lines = this.#queue.slice(first, last).map((p) =>
        typeof p.line === "string" ? encoder.encode(p.line) : p.line
      );
      return lines.length === 1 ? lines[0]! : concat(lines);
    }
    let buffer = this.#writeBuffer;
    if (buffer === null || buffer.length < most) {
      buffer = this.#writeBuffer = new Uint8Array(
        Math.min(this.#maxWriteBuffer, Math.max(most, FIRST_BUFFER_BYTES, (buffer?.length ?? 0) * 2)),
      );
    }
    let at = 0;
    for (let i = first; i < last; i++) {
      const line = this.#queue[i]!.line;
      if (typeof line === "string") at += encoder.encodeInto(line, buffer.subarray(at)).written;
      else {
        buffer.set(line, at);
        at += line.length;
      }
    }
    return buffer.subarray(0, at);
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
