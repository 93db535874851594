/**
 * Rate-limited flushing of generated text chunks (see `CHUNK_FLUSH_MS` in
 * runner_protocol.ts): the first chunk of a request, and the first after a
 * quiet period, is sent at once; chunks that follow within `flushMs` of the last send are held and
 * sent together with the first chunk after that time (or by a timer when
 * none comes). A fast stream (at least `fast.chunksPerSecond`) is sent at
 * most every `fast.flushMs` instead: each send costs its receivers a
 * wake-up, and chunks that come faster than a display can show gain nothing
 * from going out sooner. Chunk boundaries and order are kept.
 *
 * @example
 * ```ts
 * import { ChunkBatcher } from "./chunk_batcher.ts";
 * const batcher = new ChunkBatcher((id, texts) => console.log(id, texts), { flushMs: 4 });
 * batcher.push(1, "Once"); // sent now
 * batcher.push(1, " upon"); // held: sent with the first chunk 4 ms after the last send (8 ms at most)
 * batcher.finish(1); // before request 1's result: everything held goes out now
 * ```
 * @module
 */

/** Options of {@link ChunkBatcher}. */
export interface ChunkBatcherOptions {
  /** Least time between two sends, in milliseconds. */
  flushMs: number;
  /**
   * A longer least time between two sends while the chunks come at `chunksPerSecond` or faster (measured
   * over the last send's chunks). Default: none.
   */
  fast?: { flushMs: number; chunksPerSecond: number };
  /** Clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

/** Holds chunks of several requests and sends them at most every `flushMs`. */
export class ChunkBatcher {
  readonly #send: (id: number, texts: string[]) => void;
  readonly #flushMs: number;
  readonly #fast: { flushMs: number; chunksPerSecond: number } | undefined;
  readonly #now: () => number;
  readonly #held = new Map<number, string[]>();
  /** Requests that have sent a chunk and not finished. */
  readonly #started = new Set<number>();
  #heldCount = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastSend = -Infinity;
  /** The least time before the next send: `flushMs`, or `fast.flushMs` after a fast send. */
  #interval: number;

  constructor(send: (id: number, texts: string[]) => void, options: ChunkBatcherOptions) {
    this.#send = send;
    this.#flushMs = options.flushMs;
    this.#fast = options.fast;
    this.#interval = options.flushMs;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * A chunk of request `id`: sent now (with what is held) when it is the request's first or the interval
   * has passed since the last send, else held. Held chunks go out with a later chunk or, when none comes, by a timer at twice the
   * interval: while tokens keep coming the timer never fires (a timer wake-up costs as much CPU as a send).
   */
  push(id: number, text: string): void {
    const held = this.#held.get(id);
    if (held) held.push(text);
    else this.#held.set(id, [text]);
    this.#heldCount++;
    const since = this.#now() - this.#lastSend;
    const first = !this.#started.has(id);
    if (first) this.#started.add(id);
    if (first || since >= this.#interval) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), 2 * this.#interval - since);
  }

  /** Sends everything held now and forgets request `id` (call it before the request's last reply). */
  finish(id: number): void {
    this.flush();
    this.#started.delete(id);
  }

  /** Sends everything held now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#held.size === 0) return;
    const now = this.#now();
    const rate = this.#heldCount / ((now - this.#lastSend) / 1000);
    this.#interval = this.#fast !== undefined && rate >= this.#fast.chunksPerSecond
      ? this.#fast.flushMs
      : this.#flushMs;
    this.#lastSend = now;
    this.#heldCount = 0;
    const held = [...this.#held];
    this.#held.clear();
    for (const [id, texts] of held) this.#send(id, texts);
  }
}
