/**
 * What the activity log (activity_log.ts) records of each model op's
 * answer, the same whichever front the request came through: the fields a
 * front adds to its record (`activityRecord`) once the inference service
 * (inference_service.ts) answered.
 *
 * @example
 * ```ts
 * import { generationActivity } from "./activity_fields.ts";
 * import type { ServiceGeneration } from "./inference_service.ts";
 * declare const generation: ServiceGeneration;
 * const fields = generationActivity(generation, await generation.result, { prompt: "Once upon a time" });
 * ```
 * @module
 */
import type { ChatMessage, GenerateResult } from "../../inference/backend.ts";
import type { ActivityRecord } from "./activity_log.ts";
import type { ServiceGeneration } from "./inference_service.ts";

/**
 * A finished generation: its model, queue wait, token counts, speeds and stop reason; the prompt (or
 * messages) and the text (written only with `logPrompts`).
 *
 * @example
 * ```ts
 * import { generationActivity } from "./activity_fields.ts";
 * const fields = (g: Parameters<typeof generationActivity>[0], r: Parameters<typeof generationActivity>[1]) =>
 *   generationActivity(g, r, { messages: [{ role: "user", content: "Hi" }] });
 * ```
 */
export function generationActivity(
  generation: Pick<ServiceGeneration, "model" | "queueMs">,
  result: GenerateResult,
  input: { prompt: string } | { messages: ChatMessage[] },
): Partial<ActivityRecord> {
  const { usage } = result;
  return {
    model: generation.model,
    queue_ms: generation.queueMs,
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.generatedTokens,
    time_to_first_token_ms: usage.timeToFirstTokenMs,
    tokens_per_second: usage.tokensPerSecond,
    stop_reason: result.stopReason,
    ...("prompt" in input ? { prompt: input.prompt } : { messages: input.messages }),
    output: result.text,
  };
}

/**
 * An embedding: its model, queue wait, how many texts, and the texts (only with `logPrompts`).
 *
 * @example
 * ```ts
 * import { embedActivity } from "./activity_fields.ts";
 * embedActivity({ model: "m", queueMs: 0.5 }, ["a", "b"]); // { model: "m", queue_ms: 0.5, count: 2, output: ["a", "b"] }
 * ```
 */
export function embedActivity(
  embedded: { model: string; queueMs: number },
  texts: string[],
): Partial<ActivityRecord> {
  return { model: embedded.model, queue_ms: embedded.queueMs, count: texts.length, output: texts };
}

/**
 * A tokenize or detokenize: its model, how many tokens, and the text (only with `logPrompts`).
 *
 * @example
 * ```ts
 * import { tokensActivity } from "./activity_fields.ts";
 * tokensActivity("m", [1, 2, 3], "hi"); // { model: "m", count: 3, output: "hi" }
 * ```
 */
export function tokensActivity(model: string, tokens: number[], text: string): Partial<ActivityRecord> {
  return { model, count: tokens.length, output: text };
}
