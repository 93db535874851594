/**
 * The backend's options and usage (src/inference/backend.ts) as protocol fields (src/daemon/wire/protocol.ts),
 * and back: the daemon reads a request's sampling fields into {@link GenerateOptions} and writes a
 * generation's usage as `done.usage`; the client (client.ts) writes the fields and reads the usage. One place for both
 * directions, so a sampling option added to the backend is added to the wire once.
 *
 * @example
 * ```ts
 * import { samplingFields, samplingOptions } from "./protocol_backend.ts";
 * samplingOptions(samplingFields({ maxTokens: 40, stop: ["\n"] })); // { maxTokens: 40, stop: ["\n"] }
 * ```
 * @module
 */
import type { GenerateOptions, Usage } from "../../inference/backend.ts";
import type { DoneUsage, SamplingFields } from "./protocol.ts";

/**
 * The backend's sampling options from a `generate` or `chat` request.
 *
 * @example
 * ```ts
 * samplingOptions({ max_tokens: 40, temperature: 0, stop: "\n" }); // { maxTokens: 40, temperature: 0, stop: ["\n"] }
 * ```
 */
export function samplingOptions(request: SamplingFields): Omit<GenerateOptions, "signal"> {
  const out: Omit<GenerateOptions, "signal"> = {};
  if (request.max_tokens !== undefined) out.maxTokens = request.max_tokens;
  if (request.temperature !== undefined) out.temperature = request.temperature;
  if (request.seed !== undefined) out.seed = request.seed;
  if (request.top_k !== undefined) out.topK = request.top_k;
  if (request.top_p !== undefined) out.topP = request.top_p;
  if (request.repeat_penalty !== undefined) out.repeatPenalty = request.repeat_penalty;
  if (request.stop !== undefined) out.stop = typeof request.stop === "string" ? [request.stop] : request.stop;
  if (request.json_schema !== undefined) out.jsonSchema = request.json_schema;
  return out;
}

/**
 * The sampling fields of a `generate` or `chat` request from the backend's options (the inverse of
 * {@link samplingOptions}; `signal` is not sent: aborting sends `cancel`).
 *
 * @example
 * ```ts
 * samplingFields({ maxTokens: 40, topK: 40 }); // { max_tokens: 40, top_k: 40 }
 * ```
 */
export function samplingFields(options: GenerateOptions): SamplingFields {
  const out: SamplingFields = {};
  if (options.maxTokens !== undefined) out.max_tokens = options.maxTokens;
  if (options.temperature !== undefined) out.temperature = options.temperature;
  if (options.seed !== undefined) out.seed = options.seed;
  if (options.topK !== undefined) out.top_k = options.topK;
  if (options.topP !== undefined) out.top_p = options.topP;
  if (options.repeatPenalty !== undefined) out.repeat_penalty = options.repeatPenalty;
  if (options.stop !== undefined) out.stop = options.stop;
  if (options.jsonSchema !== undefined) out.json_schema = options.jsonSchema;
  return out;
}

/**
 * The wire `usage` of a generation from the backend's {@link Usage}
 * and the time it waited in the queue.
 */
export function usageFrom(usage: Usage, options: { queueMs?: number } = {}): DoneUsage {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.generatedTokens,
    total_tokens: usage.promptTokens + usage.generatedTokens,
    ...(options.queueMs === undefined ? {} : { queue_ms: options.queueMs }),
    load_ms: usage.loadMs,
    time_to_first_token_ms: usage.timeToFirstTokenMs,
    total_ms: usage.totalMs,
    tokens_per_second: usage.tokensPerSecond,
  };
}

/**
 * The backend's {@link Usage} from a `done` frame's `usage` (the inverse of {@link usageFrom}); a field
 * the daemon left out is 0 (`totalMs`: `elapsedMs`).
 *
 * @example
 * ```ts
 * usageOf({ prompt_tokens: 5, completion_tokens: 40 }, 52).generatedTokens; // 40
 * ```
 */
export function usageOf(usage: DoneUsage | undefined, elapsedMs: number): Usage {
  const u = usage ?? {};
  return {
    promptTokens: u.prompt_tokens ?? 0,
    generatedTokens: u.completion_tokens ?? 0,
    loadMs: u.load_ms ?? 0,
    timeToFirstTokenMs: u.time_to_first_token_ms ?? null,
    totalMs: u.total_ms ?? elapsedMs,
    tokensPerSecond: u.tokens_per_second ?? 0,
  };
}
