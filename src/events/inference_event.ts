/**
 * Events of `lode run`, `lode chat` and `lode embed` (NDJSON with `--json`),
 * tagged by `event`. The load's status events (`loading_model`,
 * `capabilities`; see `status_event.ts`) come first.
 *
 * - `token`: a chunk of generated text, as soon as it is decoded.
 * - `done`: one generation ended: why, and its {@link Usage} counters and timings
 *   (`tokensPerSecond` is the decode speed; `timeToFirstTokenMs` counts from
 *   the start of the generation, model load excluded).
 * - `embedding`: one input text's vector, in input order.
 *
 * @example
 * ```ts
 * import { InferenceEvent } from "./inference_event.ts";
 * InferenceEvent.parse({ event: "token", text: ", there" });
 * ```
 * @module
 */
import { z } from "zod";

/**
 * Why a generation ended: the model's end-of-text token (`eos`), a stop
 * sequence (`stop`), `maxTokens` (`max_tokens`), a full context window
 * (`context_full`), an abort signal / the consumer leaving the loop
 * (`abort`), or a chat answer that calls tools (`tool_calls`: the result's
 * `toolCalls` name them). The backend contract's `StopReason` (src/inference/backend.ts),
 * and the `stop_reason` of every front.
 *
 * @example
 * ```ts
 * import { StopReason } from "./inference_event.ts";
 * const truncated = (r: StopReason) => r === "max_tokens" || r === "context_full";
 * StopReason.parse("eos");
 * ```
 */
export const StopReason = z.enum(["eos", "stop", "max_tokens", "context_full", "abort", "tool_calls"]);
export type StopReason = z.infer<typeof StopReason>;

/**
 * Counters and timings of one generation, times in milliseconds: the
 * backend contract's `Usage` (src/inference/backend.ts). The daemon's `done`
 * frame and the OpenAI front encode it in their own wire shapes.
 *
 * @example
 * ```ts
 * import { Usage } from "./inference_event.ts";
 * Usage.parse({ promptTokens: 5, generatedTokens: 40, loadMs: 120, timeToFirstTokenMs: 3, totalMs: 50, tokensPerSecond: 800 });
 * const line = (u: Usage) => `${u.generatedTokens} tokens, ${u.tokensPerSecond.toFixed(0)} tok/s`;
 * ```
 */
export const Usage = z.object({
  /** Tokens of the prompt as the model was fed it (a BOS token and the chat template included). */
  promptTokens: z.number().int().nonnegative(),
  /** Tokens generated. */
  generatedTokens: z.number().int().nonnegative(),
  /** How long the session took to load (same for every generation of a session). */
  loadMs: z.number().nonnegative(),
  /** From the start of the generation to the first generated token; null if none was generated. */
  timeToFirstTokenMs: z.number().nonnegative().nullable(),
  /** From the start of the generation (after waiting for earlier ones) to its end. */
  totalMs: z.number().nonnegative(),
  /**
   * Decode speed: tokens after the first divided by the time since the first
   * (prompt processing excluded, as llama.cpp reports "eval" speed). With
   * fewer than two tokens: generated tokens over `totalMs`.
   */
  tokensPerSecond: z.number().nonnegative(),
});
export type Usage = z.infer<typeof Usage>;

/**
 * A chunk of generated text.
 *
 * @example
 * ```ts
 * import { TokenEvent } from "./inference_event.ts";
 * TokenEvent.parse({ event: "token", text: "Once" });
 * ```
 */
export const TokenEvent = z.object({ event: z.literal("token"), text: z.string() });
export type TokenEvent = z.infer<typeof TokenEvent>;

/**
 * The end of one generation (one answer, in `lode chat`).
 *
 * @example
 * ```ts
 * import { DoneEvent } from "./inference_event.ts";
 * DoneEvent.parse({
 *   event: "done",
 *   stop_reason: "max_tokens",
 *   usage: { promptTokens: 5, generatedTokens: 40, loadMs: 120, timeToFirstTokenMs: 3, totalMs: 50, tokensPerSecond: 800 },
 * });
 * ```
 */
export const DoneEvent = z.object({
  event: z.literal("done"),
  stop_reason: StopReason,
  usage: Usage,
});
export type DoneEvent = z.infer<typeof DoneEvent>;

/**
 * One text's embedding.
 *
 * @example
 * ```ts
 * import { EmbeddingEvent } from "./inference_event.ts";
 * EmbeddingEvent.parse({ event: "embedding", index: 0, text: "hello", embedding: [0.6, 0.8] });
 * ```
 */
export const EmbeddingEvent = z.object({
  event: z.literal("embedding"),
  index: z.number().int().nonnegative(),
  text: z.string(),
  embedding: z.array(z.number()),
});
export type EmbeddingEvent = z.infer<typeof EmbeddingEvent>;

/**
 * Any inference event.
 *
 * @example
 * ```ts
 * import { InferenceEvent } from "./inference_event.ts";
 * const isText = (e: InferenceEvent) => e.event === "token";
 * ```
 */
export const InferenceEvent = z.discriminatedUnion("event", [TokenEvent, DoneEvent, EmbeddingEvent]);
export type InferenceEvent = z.infer<typeof InferenceEvent>;
