/**
 * Retries with exponential backoff and full jitter, honouring `Retry-After`
 * on 429/503, for the failures that another attempt can fix (a reset
 * connection, a short body, a stall, a 5xx). Anything else fails at once.
 *
 * @example
 * ```ts
 * const bytes = await withRetries(
 *   async (attempt) => (await fetch(`https://127.0.0.1:8443/m.gguf?attempt=${attempt}`)).bytes(),
 *   { policy: DEFAULT_RETRY },
 * );
 * ```
 * @module
 */
import { type LodeError, toLodeError } from "../errors.ts";

/** How often and how patiently to retry. */
export interface RetryPolicy {
  /** Attempts in all (1 = no retry). */
  attempts: number;
  /** First backoff; doubles per attempt. */
  baseMs: number;
  /** Longest backoff, and the longest `Retry-After` honoured. */
  maxMs: number;
}

/** 6 attempts, 250 ms doubling to at most 30 s. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseMs: 250, maxMs: 30_000 };

/** Full-jitter exponential backoff for the `attempt`-th retry (0-based). */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  return Math.round(random() * Math.min(policy.maxMs, policy.baseMs * 2 ** attempt));
}

/** Milliseconds a `Retry-After` header asks for (seconds or an HTTP date), or `null`. */
function retryAfterMs(header: string | null | undefined, now: number = Date.now()): number | null {
  if (!header) return null;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/** True for failures another attempt may fix. */
export function isRetryable(error: LodeError): boolean {
  switch (error.code) {
    case "NETWORK":
    case "SIZE_MISMATCH":
    case "STALLED":
      return true;
    case "HTTP_STATUS":
      return RETRYABLE_STATUS.has(Number(error.details.status));
    default:
      return false;
  }
}

/** Options of {@link withRetries}. */
export interface RetryOptions {
  policy: RetryPolicy;
  signal?: AbortSignal;
  /** Called before each wait with the failure and the delay chosen. */
  onRetry?: (error: LodeError, attempt: number, delayMs: number) => void;
  /** Waits; injected for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** Sleeps `ms`, or rejects with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Runs `fn` until it succeeds, fails for good, or the attempts run out (then the last error, with `attempts`). */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const wait = options.sleep ?? sleep;
  for (let attempt = 0;; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      const error = toLodeError(e);
      // Cancelled: the error may be the canceller's own (an abort reason), so it is passed on untouched.
      if (options.signal?.aborted) throw error;
      if (!isRetryable(error) || attempt + 1 >= options.policy.attempts) {
        if (attempt > 0) error.details.attempts = attempt + 1;
        throw error;
      }
      const asked = retryAfterMs(error.details.retry_after as string | undefined);
      const delay = asked !== null
        ? Math.min(asked, options.policy.maxMs)
        : backoffMs(attempt, options.policy, options.random);
      options.onRetry?.(error, attempt + 1, delay);
      await wait(delay, options.signal);
    }
  }
}
