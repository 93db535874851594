/**
 * The event of one request the daemon finished (source `daemon`): `{"event":"request",…}` with the fields
 * of its activity-log record (`lode serve --log`, docs/daemon.md): request id, connection, op, model,
 * outcome and error code, queue wait, token counts, durations. The prompt, messages and generated text
 * are there only when the daemon's operator asked for them (`--log-prompts`). Times are milliseconds.
 *
 * @example
 * ```ts
 * import { RequestEvent } from "./request_event.ts";
 * RequestEvent.parse({
 *   event: "request", time: "2026-05-18T10:00:00.000Z", request_id: "g1", client: 1, op: "generate",
 *   outcome: "ok", duration_ms: 41,
 * });
 * ```
 * @module
 */
import { z } from "zod";

const count = z.number().int().nonnegative();
const ms = z.number().nonnegative();

export const RequestEvent = z.object({
  event: z.literal("request"),
  /** When the request ended (ISO 8601). */
  time: z.string(),
  request_id: z.string(),
  /** The connection's number (since the daemon started): requests of one client share it. */
  client: count,
  op: z.string(),
  model: z.string().optional(),
  /** `ok`, or `error` with `code`. */
  outcome: z.enum(["ok", "error"]),
  code: z.string().optional(),
  queue_ms: ms.optional(),
  prompt_tokens: count.optional(),
  completion_tokens: count.optional(),
  /** Texts embedded, tokens returned by tokenize. */
  count: count.optional(),
  time_to_first_token_ms: ms.nullable().optional(),
  tokens_per_second: z.number().nonnegative().optional(),
  stop_reason: z.string().optional(),
  /** From the request's line being read to its last frame being queued. */
  duration_ms: ms,
  /** Only with `--log-prompts`. */
  prompt: z.string().optional(),
  /** Only with `--log-prompts`. */
  messages: z.unknown().optional(),
  /** Only with `--log-prompts`: generated text, or the embedded / tokenized inputs. */
  output: z.unknown().optional(),
});
export type RequestEvent = z.infer<typeof RequestEvent>;
