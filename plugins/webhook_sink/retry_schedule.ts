/**
 * When a failed webhook delivery is tried again: exponential backoff with jitter, or the receiver's
 * `Retry-After` (seconds or an HTTP date) when it sent one.
 *
 * @example
 * ```ts
 * import { retryDelay } from "./retry_schedule.ts";
 * retryDelay(3, { baseMs: 1000, maxMs: 300_000 }, { random: () => 1 }); // 4000
 * retryDelay(1, { baseMs: 1000, maxMs: 300_000 }, { retryAfter: "7", random: () => 0 }); // 7000
 * ```
 * @module
 */

/** The backoff's bounds. */
export interface RetrySchedule {
  /** The delay after the first failure, before jitter. */
  baseMs: number;
  /** The longest delay (a `Retry-After` is capped at it too). */
  maxMs: number;
}

/** The delay before attempt `failures + 1`, after `failures` failures in a row (1 for the first). */
export function retryDelay(
  failures: number,
  schedule: RetrySchedule,
  options: { retryAfter?: string | null; random?: () => number; now?: number } = {},
): number {
  const asked = parseRetryAfter(options.retryAfter ?? null, options.now ?? Date.now());
  if (asked !== null) return Math.min(asked, schedule.maxMs);
  const exponential = Math.min(schedule.maxMs, schedule.baseMs * 2 ** Math.max(0, failures - 1));
  // Jitter: between half and all of the exponential delay.
  return Math.round(exponential * (0.5 + (options.random ?? Math.random)() / 2));
}

/** A `Retry-After` header in milliseconds from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
