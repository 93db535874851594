/**
 * A promise raced against an abort signal: the router's waits (for a shared
 * load, for room, for an old runner to stop) end as soon as the one waiting
 * gives up, while the thing waited for goes on for whoever else waits.
 *
 * @example
 * ```ts
 * import { abortable } from "./abortable.ts";
 * const signal = AbortSignal.timeout(1000);
 * await abortable(new Promise((r) => setTimeout(r, 10)), signal, () => new Error("gave up"));
 * ```
 * @module
 */

/**
 * `promise`, or a rejection with `error()` as soon as `signal` aborts (at once when it is aborted already).
 *
 * @example
 * ```ts
 * import { abortable } from "./abortable.ts";
 * const stopped = Promise.resolve();
 * await abortable(stopped, undefined, () => new Error("never: no signal"));
 * ```
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  error: () => Error,
): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(error());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(error());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
