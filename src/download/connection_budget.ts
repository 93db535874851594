/**
 * A global budget of concurrent connections, shared by every file of every
 * pull in one process (`lode pull A B C`, a model's shards): each part fetch
 * holds one slot while its request is open.
 *
 * @example
 * ```ts
 * const budget = new ConnectionBudget(8);
 * const response = await budget.run(() => fetch("https://127.0.0.1:8443/m.gguf"));
 * ```
 * @module
 */

/** An async counting semaphore. */
export class ConnectionBudget {
  readonly size: number;
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`connection budget must be >= 1, got ${size}`);
    }
    this.size = size;
    this.#free = size;
  }

  /** Slots in use. */
  get inUse(): number {
    return this.size - this.#free;
  }

  /** Takes a slot (waiting for one); returns its release. */
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }

  /** Runs `task` while holding one slot. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  }
}
