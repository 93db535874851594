/**
 * The time a download's body readers have spent waiting for bytes, reads still pending included: a
 * connection stalled in one long read is waiting all along, not only once its read returns.
 * @module
 */

/**
 * Milliseconds of waiting summed over readers (two readers waiting 1 s each count 2 s).
 *
 * @example
 * ```ts
 * import { WaitClock } from "./wait_clock.ts";
 * const clock = new WaitClock();
 * const done = clock.begin();
 * await new Promise((r) => setTimeout(r, 10));
 * done();
 * console.log(clock.ms() > 0);
 * ```
 */
export class WaitClock {
  readonly #now: () => number;
  /** Waiting settled up to {@link #mark}, and the reads pending since then. */
  #settled = 0;
  #mark: number;
  #pending = 0;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
    this.#mark = now();
  }

  /** A read starts waiting; call the returned function once when it ends (with bytes, an end or an error). */
  begin(): () => void {
    this.#settle();
    this.#pending++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#settle();
      this.#pending--;
    };
  }

  /** Waiting so far, the reads now pending counted up to this moment. */
  ms(): number {
    return this.#settled + this.#pending * (this.#now() - this.#mark);
  }

  #settle(): void {
    const now = this.#now();
    this.#settled += this.#pending * (now - this.#mark);
    this.#mark = now;
  }
}
