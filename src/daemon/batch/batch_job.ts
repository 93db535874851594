/**
 * The model-batch-inference job's effect over a way to find and load models: the spec's paths start from
 * the job's directory, its progress is the batch's (requests answered of the input's, with the failed
 * ones, generated tokens per second and the time left), and its result the batch's summary. A resumed job
 * continues where it stopped: its spec's `restart` and `retry_errors` apply to its first run only. The command
 * line loads the model in its own process (`lode batch`, `lode job run`), the daemon through its router.
 *
 * @example
 * ```ts
 * import type { Session } from "../../inference/backend.ts";
 * import { batchJobEffect } from "./batch_job.ts";
 * declare const session: Session;
 * const effect = batchJobEffect({
 *   resolveModel: async () => ({ sha256: "ab…" }),
 *   open: async () => ({ target: session, close: async () => {} }),
 * });
 * ```
 * @module
 */
import type { BatchEffect } from "../../jobs/job_context.ts";
import { joinPath } from "../../path.ts";
import { type BatchRunOptions, defaultErrorsPath, runBatch } from "./batch_run.ts";

/** The parallel requests of a batch whose spec gives none. */
export const DEFAULT_BATCH_PARALLEL = 4;

/** Tokens of context each request of a batch gets when its spec gives none. */
export const DEFAULT_BATCH_CONTEXT = 2048;

/**
 * How a batch job finds and loads its model. `open` is given the spec's `context_size`, absent when the spec
 * gives none: the command line then gives each request {@link DEFAULT_BATCH_CONTEXT}, a daemon the context
 * its requests get.
 */
export type BatchModels = Pick<BatchRunOptions, "resolveModel" | "open">;

/** The effect of model-batch-inference jobs over `models`. */
export function batchJobEffect(models: BatchModels): BatchEffect {
  return async (spec, { cwd, signal, progress, resumed }) => {
    const at = (path: string) => path.startsWith("/") ? path : joinPath(cwd, path);
    const output = at(spec.output);
    const errors = spec.errors === undefined ? defaultErrorsPath(output) : at(spec.errors);
    const summary = await runBatch({
      ...models,
      open: (name, o) => {
        const { contextSize: _, ...rest } = o;
        return models.open(
          name,
          spec.context_size === undefined ? rest : { ...rest, contextSize: spec.context_size },
        );
      },
      input: at(spec.inputs),
      output,
      errors,
      model: spec.model,
      parallel: spec.parallel ?? DEFAULT_BATCH_PARALLEL,
      // The fingerprint's: a spec without one is a batch of the default context.
      contextSize: spec.context_size ?? DEFAULT_BATCH_CONTEXT,
      // A resumed job continues: what its first run discarded is not discarded again.
      restart: spec.restart === true && !resumed,
      retryErrors: spec.retry_errors === true && !resumed,
      signal,
      onProgress: (p) =>
        progress(p.done, p.total, {
          failed: p.failed,
          tokens_per_second: Math.round(p.tokens_per_second * 10) / 10,
          eta_ms: p.eta_ms,
          usage: p.usage,
        }),
    });
    return { ...summary, output, errors };
  };
}
