/**
 * A smoothed transfer-rate meter (exponentially weighted over ~2 s), for
 * progress events and ETAs.
 *
 * @example
 * ```ts
 * const meter = new RateMeter(() => performance.now());
 * meter.update(1_000_000);
 * meter.bytesPerSecond;
 * ```
 * @module
 */

/** Tracks a byte counter and reports a smoothed rate. */
export class RateMeter {
  readonly #now: () => number;
  readonly #halfLifeMs: number;
  #lastTime: number;
  #lastBytes = 0;
  #rate = 0;

  constructor(now: () => number = () => performance.now(), halfLifeMs = 1000) {
    this.#now = now;
    this.#halfLifeMs = halfLifeMs;
    this.#lastTime = now();
  }

  /** Records that `totalBytes` have been transferred so far. */
  update(totalBytes: number): void {
    const t = this.#now();
    const dt = t - this.#lastTime;
    if (dt <= 0) return;
    const instant = ((totalBytes - this.#lastBytes) * 1000) / dt;
    const weight = 1 - Math.pow(0.5, dt / this.#halfLifeMs);
    this.#rate = this.#rate === 0 ? instant : this.#rate + weight * (instant - this.#rate);
    this.#lastTime = t;
    this.#lastBytes = totalBytes;
  }

  /** Smoothed bytes per second. */
  get bytesPerSecond(): number {
    return Math.max(0, this.#rate);
  }
}
