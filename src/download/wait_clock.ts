/**
 * The time a download's body readers have spent waiting for bytes, reads still pending included: a
 * connection stalled in one long read is waiting all along, not only once its read returns; and the time
 * this thread spent ready to run but waiting for a CPU (the machine busy with other work), which a reader
 * also sees pass while its read is pending.
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
  readonly #runQueue: () => number;
  /** Waiting settled up to {@link #mark}, and the reads pending since then. */
  #settled = 0;
  #mark: number;
  #pending = 0;

  /** `runQueue`: milliseconds this thread has waited for a CPU so far ({@link threadRunQueueMs}). */
  constructor(now: () => number = () => performance.now(), runQueue: () => number = threadRunQueueMs) {
    this.#now = now;
    this.#runQueue = runQueue;
    this.#mark = now();
  }

  /** Milliseconds this thread has waited for a CPU so far (0 where the system does not say). */
  runQueueMs(): number {
    return this.#runQueue();
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

/**
 * Milliseconds the calling thread has spent ready to run but waiting for a CPU (Linux: the second field of
 * `/proc/thread-self/schedstat`, in nanoseconds); 0 where that cannot be read.
 */
export function threadRunQueueMs(): number {
  try {
    const fields = Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ");
    const ns = Number(fields[1]);
    return Number.isFinite(ns) ? ns / 1e6 : 0;
  } catch {
    return 0;
  }
}
