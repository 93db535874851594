/**
 * What the daemon's model-warmup and model-inference jobs do: a warmup loads its model through the
 * inference service (as a `load` request, its keep-alive the daemon's) and reports what was loaded; an
 * inference job generates through the service's admission queue like any `generate` request, and its
 * result is the text, why it stopped and the usage.
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
import type { JobEffects } from "../../jobs/job_context.ts";
import type { InferenceService, ServiceCall } from "./inference_service.ts";

/** The warmup and inference effects over `service`. */
export function daemonJobEffects(service: InferenceService): Pick<JobEffects, "warmup" | "inference"> {
  const call = (signal: AbortSignal): ServiceCall => ({ key: `job/${crypto.randomUUID()}`, signal });
  return {
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
