/**
 * What the daemon's model-warmup and model-inference jobs do: a warmup loads its model through the
 * inference service (as a `load` request, its keep-alive the daemon's) and reports what was loaded; an
 * inference job generates through the service's admission queue like any `generate` request, and its
 * result is the text, why it stopped and the usage. A batch job (src/daemon/batch/) runs its requests in
 * the daemon's process through the service too, each admitted like a request of the sockets, min(its
 * `parallel`, the daemon's `--parallel`) at once, each on its own sequence of the model's context; its
 * model is looked up in `store`.
 *
 * @example
 * ```ts
 * import type { InferenceService } from "./inference_service.ts";
 * import { daemonJobEffects } from "./daemon_job_effects.ts";
 * declare const service: InferenceService;
 * const effects = daemonJobEffects(service);
 * await effects.warmup?.({ model: "stories260K" }, { cwd: "/", signal: new AbortController().signal, onEvent: () => {} });
 * ```
 * @module
 */
import { isLodeError, LodeError } from "../../errors.ts";
import type { JobEffects } from "../../jobs/job_context.ts";
import type { GenerateOptions } from "../../inference/backend.ts";
import type { ModelStore } from "../../store/model_store.ts";
import type { BatchTarget } from "../batch/batch_engine.ts";
import { batchJobEffect } from "../batch/batch_job.ts";
import type { InferenceService, ServiceCall } from "./inference_service.ts";

/** The warmup, inference and (given the store) batch effects over `service`. */
export function daemonJobEffects(
  service: InferenceService,
  store?: ModelStore,
): Pick<JobEffects, "warmup" | "inference" | "batch"> {
  const call = (signal: AbortSignal, contextSize?: number): ServiceCall => ({
    key: `job/${crypto.randomUUID()}`,
    signal,
    ...(contextSize === undefined ? {} : { contextSize }),
  });
  const batchTarget = (model: string, signal: AbortSignal, contextSize?: number): BatchTarget => {
    const split = (options: GenerateOptions) => {
      const { signal: own, ...rest } = options;
      return { rest, call: call(own ? AbortSignal.any([own, signal]) : signal, contextSize) };
    };
    return {
      generate: (prompt, options) => {
        const { rest, call } = split(options);
        return { result: service.generate({ model, prompt }, rest, call).then((g) => g.result) };
      },
      chat: (messages, options) => {
        const { rest, call } = split(options);
        return { result: service.generate({ model, messages }, rest, call).then((g) => g.result) };
      },
      embed: async (texts, options = {}) =>
        (await service.embed(
          model,
          texts,
          { normalize: options.normalize },
          call(options.signal ?? signal, contextSize),
        )).embeddings,
      tokenize: async (text) => (await service.tokenize(model, text, call(signal, contextSize))).tokens,
    };
  };
  return {
    ...(store === undefined ? {} : {
      batch: batchJobEffect({
        resolveModel: async (name) => ({
          sha256: (await store.getManifest(name)).blob.replace(/^sha256:/, ""),
        }),
        // As many requests at once as both the batch's `parallel` and the daemon's `--parallel` allow; each
        // with the batch's context when it gives one (the model loaded with it first), else the daemon's.
        open: async (name, { signal, contextSize }) => {
          if (contextSize !== undefined) await loadWithContext(service, name, contextSize, call(signal));
          return {
            target: batchTarget(name, signal, contextSize),
            parallel: service.parallel,
            close: async () => {},
          };
        },
      }),
    }),
    warmup: async (spec, { signal }) => {
      const { model, context_size } = spec as { model: string; context_size?: number };
      const loaded = await service.load(
        model,
        context_size !== undefined ? { contextSize: context_size } : {},
        call(signal),
      );
      return {
        model: loaded.model,
        load_ms: loaded.loadMs,
        context_size: loaded.info.contextSize,
        capabilities: loaded.capabilities,
      };
    },
    inference: async (spec, { signal }) => {
      const { model, prompt, max_tokens } = spec as { model: string; prompt: string; max_tokens?: number };
      const generation = await service.generate(
        { model, prompt },
        max_tokens !== undefined ? { maxTokens: max_tokens } : {},
        call(signal),
      );
      const result = await generation.result;
      return { model, text: result.text, stop_reason: result.stopReason, usage: result.usage };
    },
  };
}

/**
 * Loads `model` with `contextSize` tokens a request (reloaded once its other requests finish when it is
 * loaded with another); `BATCH_CONTEXT_UNAVAILABLE` when it cannot be (its load failed, or it runs with
 * another context), rather than running the batch with another context.
 */
async function loadWithContext(
  service: InferenceService,
  model: string,
  contextSize: number,
  call: ServiceCall,
): Promise<void> {
  let got: number;
  try {
    got = (await service.load(model, { contextSize }, call)).info.contextSize;
  } catch (e) {
    if (call.signal.aborted || !isLodeError(e) || !CONTEXT_LOAD_ERRORS.has(e.code)) throw e;
    throw contextUnavailable(model, contextSize, e.message, e);
  }
  if (got !== contextSize) {
    throw contextUnavailable(model, contextSize, `the daemon runs it with ${got} tokens a request`);
  }
}

/** Failures of a load that another context may not have. */
const CONTEXT_LOAD_ERRORS = new Set<string>(["MODEL_LOAD_FAILED", "INSUFFICIENT_MEMORY", "RUNNER_CRASHED"]);

function contextUnavailable(model: string, contextSize: number, why: string, cause?: unknown): LodeError {
  return new LodeError(
    "BATCH_CONTEXT_UNAVAILABLE",
    `the daemon cannot run ${model} with the batch's context of ${contextSize} tokens a request: ${why}`,
    { details: { model, context_size: contextSize }, ...(cause === undefined ? {} : { cause }) },
  );
}
