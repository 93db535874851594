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
 * A generation's counters and timings (the backend's `Usage`, times in milliseconds).
 *
 * @example
 * ```ts
 * import { Usage } from "./inference_event.ts";
 * Usage.parse({ promptTokens: 5, generatedTokens: 40, loadMs: 120, timeToFirstTokenMs: 3, totalMs: 50, tokensPerSecond: 800 });
 * ```
 */
export const Usage = z.object({
  promptTokens: z.number().int().nonnegative(),
  generatedTokens: z.number().int().nonnegative(),
  loadMs: z.number().nonnegative(),
  timeToFirstTokenMs: z.number().nonnegative().nullable(),
  totalMs: z.number().nonnegative(),
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
  stop_reason: z.enum(["eos", "stop", "max_tokens", "context_full", "abort"]),
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
