/**
 * The default number of CPU threads for llama.cpp evaluation.
 *
 * llama.cpp spins its threads while it waits for each other, so asking for as
 * many threads as there are logical CPUs (its default) fights every other
 * process, and the main thread, for the same cores: on a 2-core machine a
 * second thread, and more so the library default, makes a small model many
 * times slower (docs/benchmarks.md). So: leave one core free, and stop at 4,
 * where decoding small models is memory-bound anyway.
 *
 * @example
 * ```ts
 * import { defaultThreads } from "./default_threads.ts";
 * defaultThreads(); // 1 on a 2-core machine
 * defaultThreads(16); // 4
 * ```
 * @module
 */

/** Never more than this many threads by default. */
export const MAX_DEFAULT_THREADS = 4;

/**
 * `max(1, min(4, cpus - 1))`.
 *
 * @param cpus Logical CPUs; defaults to `navigator.hardwareConcurrency`.
 * @returns A thread count between 1 and {@link MAX_DEFAULT_THREADS}.
 *
 * @example
 * ```ts
 * import { defaultThreads } from "./default_threads.ts";
 * console.log(defaultThreads(2)); // 1
 * ```
 */
export function defaultThreads(cpus: number = navigator.hardwareConcurrency): number {
  const n = Number.isFinite(cpus) ? Math.floor(cpus) : 1;
  return Math.max(1, Math.min(MAX_DEFAULT_THREADS, n - 1));
}
