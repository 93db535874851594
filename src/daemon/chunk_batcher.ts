/**
 * Rate-limited flushing of generated text chunks (see `CHUNK_FLUSH_MS` in
 * runner_protocol.ts): the first chunk after a quiet period is sent at
 * once; chunks that follow within `flushMs` of the last send are held and
 * sent together with the first chunk after that time (or by a timer when
 * none comes). Chunk boundaries and order are kept.
 *
 * @example
 * ```ts
 * import { ChunkBatcher } from "./chunk_batcher.ts";
 * const batcher = new ChunkBatcher((id, texts) => console.log(id, texts), { flushMs: 4 });
 * batcher.push(1, "Once"); // sent now
 * batcher.push(1, " upon"); // held: sent with the first chunk 4 ms after the last send (8 ms at most)
 * batcher.flush(); // before a request's result: everything held goes out now
 * ```
 * @module
 */

/** Options of {@link ChunkBatcher}. */
export interface ChunkBatcherOptions {
  /** Least time between two sends, in milliseconds. */
  flushMs: number;
  /** Clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

/** Holds chunks of several requests and sends them at most every `flushMs`. */
export class ChunkBatcher {
  readonly #send: (id: number, texts: string[]) => void;
  readonly #flushMs: number;
  readonly #now: () => number;
  readonly #held = new Map<number, string[]>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastSend = -Infinity;

  constructor(send: (id: number, texts: string[]) => void, options: ChunkBatcherOptions) {
    this.#send = send;
    this.#flushMs = options.flushMs;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * A chunk of request `id`: sent now (with what is held) when `flushMs` have passed since the last send,
   * else held. Held chunks go out with a later chunk or, when none comes, by a timer at twice `flushMs`:
   * while tokens keep coming the timer never fires (a timer wake-up costs as much CPU as a send).
   */
  push(id: number, text: string): void {
    const held = this.#held.get(id);
    if (held) held.push(text);
    else this.#held.set(id, [text]);
    const since = this.#now() - this.#lastSend;
    if (since >= this.#flushMs) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), 2 * this.#flushMs - since);
  }

  /** Sends everything held now (call it before a request's last reply). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#held.size === 0) return;
    this.#lastSend = this.#now();
    const held = [...this.#held];
    this.#held.clear();
    for (const [id, texts] of held) this.#send(id, texts);
  }
}
