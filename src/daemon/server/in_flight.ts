/**
 * The requests a front (the inference socket, the HTTP front) is handling,
 * and the graceful drain both share: wait for them to finish within a grace
 * period, then stop the rest with `DRAINING`.
 * @module
 */
import { LodeError } from "../../errors.ts";

/**
 * The error for a request that arrives while the daemon drains.
 *
 * @example
 * ```ts
 * import { drainingError } from "./in_flight.ts";
 * drainingError().code; // "DRAINING"
 * ```
 */
export function drainingError(): LodeError {
  return new LodeError("DRAINING", "the daemon is shutting down and takes no new requests");
}

/**
 * A set of requests in flight that can be waited on until it is empty.
 *
 * @example
 * ```ts
 * import { InFlightSet } from "./in_flight.ts";
 * const requests = new InFlightSet<string>();
 * requests.add("1/g1");
 * const idle = requests.whenIdle();
 * requests.delete("1/g1"); // idle resolves
 * ```
 */
export class InFlightSet<T> {
  readonly #items = new Set<T>();
  #idle: (() => void)[] = [];

  /** How many are in flight. */
  get size(): number {
    return this.#items.size;
  }

  add(item: T): void {
    this.#items.add(item);
  }

  /** Removes `item`; the last one out wakes {@link whenIdle}'s waiters. */
  delete(item: T): void {
    this.#items.delete(item);
    if (this.#items.size > 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const wake of waiters) wake();
  }

  values(): IterableIterator<T> {
    return this.#items.values();
  }

  /** Resolves when nothing is in flight. */
  whenIdle(): Promise<void> {
    if (this.#items.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Waits up to `graceMs` for every request to end; then calls `stop` with a `DRAINING` error for those
   * left and waits for them to end. Resolves with how many had to be stopped.
   */
  async drain(graceMs: number, stop: (reason: LodeError) => void): Promise<number> {
    if (this.#items.size === 0) return 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      this.whenIdle().then(() => false),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), graceMs)),
    ]);
    clearTimeout(timer);
    if (!timedOut) return 0;
    const stopped = this.#items.size;
    stop(
      new LodeError(
        "DRAINING",
        `the daemon stopped before this request finished (grace period ${graceMs} ms)`,
      ),
    );
    await this.whenIdle();
    return stopped;
  }
}
