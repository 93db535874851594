/**
 * Turns a callback-style generation (a function that emits text chunks and
 * resolves with a summary) into a {@link Generation}: an async iterable of
 * chunks (also readable in batches) plus a `result` promise, abortable
 * through a signal or by leaving the loop. Every backend builds its streams
 * with it, so all of them share the same semantics (eager start, buffered
 * chunks, abort = normal end).
 *
 * @example
 * ```ts
 * import { createGeneration } from "./generation.ts";
 * const generation = createGeneration(async (emit) => {
 *   emit("Hello");
 *   emit(", world");
 *   return {
 *     text: "Hello, world",
 *     stopReason: "eos",
 *     usage: { promptTokens: 1, generatedTokens: 2, loadMs: 0, timeToFirstTokenMs: 0, totalMs: 1, tokensPerSecond: 2000 },
 *   };
 * });
 * for await (const chunk of generation) console.log(chunk);
 * ```
 * @module
 */
import type { GenerateResult, Generation } from "./backend.ts";

/**
 * The producer behind a {@link Generation}: calls `emit` for each text chunk
 * and resolves with the summary. It must stop promptly once `signal` aborts
 * (resolving with `stopReason: "abort"` is the expected way to stop).
 *
 * @example
 * ```ts
 * import type { GenerationRun } from "./generation.ts";
 * const silent: GenerationRun = async () => ({
 *   text: "",
 *   stopReason: "eos",
 *   usage: { promptTokens: 0, generatedTokens: 0, loadMs: 0, timeToFirstTokenMs: null, totalMs: 0, tokensPerSecond: 0 },
 * });
 * ```
 */
export type GenerationRun = (emit: (chunk: string) => void, signal: AbortSignal) => Promise<GenerateResult>;

/** Options of {@link createGeneration}. */
export interface CreateGenerationOptions {
  /** The caller's signal; aborting it aborts the signal `run` sees. */
  signal?: AbortSignal;
}

/**
 * Calls `run` at once (so generations start in call order; a synchronous
 * throw becomes a rejection) and returns its stream. Chunks are buffered
 * until read, so a slow reader never loses text; the stream is meant for one
 * reader. Leaving a `for await` loop early aborts the run. `batches()` gives
 * every chunk emitted since the last batch at once (a burst `run` emits
 * without awaiting stays together):
 *
 * ```ts
 * import { createGeneration } from "./generation.ts";
 * const burst = createGeneration(async (emit) => {
 *   emit("Once"); emit(" upon");
 *   const usage = { promptTokens: 0, generatedTokens: 2, loadMs: 0, timeToFirstTokenMs: 0, totalMs: 0, tokensPerSecond: 0 };
 *   return { text: "Once upon", stopReason: "max_tokens", usage };
 * });
 * for await (const texts of burst.batches()) console.log(texts); // ["Once", " upon"]
 * ```
 *
 * @example
 * ```ts
 * import { createGeneration } from "./generation.ts";
 * const g = createGeneration(async (emit, signal) => {
 *   let text = "";
 *   while (!signal.aborted && text.length < 3) { emit("a"); text += "a"; }
 *   const usage = { promptTokens: 0, generatedTokens: text.length, loadMs: 0, timeToFirstTokenMs: 0, totalMs: 0, tokensPerSecond: 0 };
 *   return { text, stopReason: signal.aborted ? "abort" : "max_tokens", usage };
 * });
 * console.log((await g.result).text); // "aaa"
 * ```
 */
export function createGeneration(run: GenerationRun, options: CreateGenerationOptions = {}): Generation {
  const controller = new AbortController();
  const outer = options.signal;
  const onOuterAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) controller.abort(outer.reason);
  else outer?.addEventListener("abort", onOuterAbort, { once: true });

  const chunks: string[] = [];
  let done = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const emit = (chunk: string) => {
    if (chunk === "" || done) return;
    chunks.push(chunk);
    notify();
  };

  let started: Promise<GenerateResult>;
  try {
    started = run(emit, controller.signal);
  } catch (e) {
    started = Promise.reject(e);
  }
  const result = started
    .finally(() => {
      done = true;
      outer?.removeEventListener("abort", onOuterAbort);
      notify();
    });
  // A failure reaches the reader through the iteration and `result`; never as an unhandled rejection.
  result.catch(() => {});

  /** Yields what `take` gives until the run ended and every chunk was taken; leaving early aborts the run. */
  async function* drain<T>(take: () => T | undefined): AsyncGenerator<T, void, undefined> {
    let finished = false;
    try {
      while (true) {
        const next = take();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (done) break;
        await new Promise<void>((resolve) => (wake = resolve));
      }
      await result; // rethrows the run's failure
      finished = true;
    } finally {
      if (!finished) controller.abort(new DOMException("the reader stopped reading", "AbortError"));
    }
  }

  return {
    result,
    [Symbol.asyncIterator]: () => drain(() => chunks.shift()),
    batches: () => ({
      [Symbol.asyncIterator]: () => drain(() => chunks.length === 0 ? undefined : chunks.splice(0)),
    }),
  };
}
