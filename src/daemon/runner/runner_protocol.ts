/**
 * What the daemon and a runner process (one loaded model, `lode __runner`)
 * say to each other: NDJSON over a private Unix socket (runner_client.ts
 * listens, the runner connects); the runner's stdout and stderr are its log.
 * Internal: both ends are the
 * same lode executable, so there is no version negotiation, but every
 * message is checked on arrival.
 *
 * Requests carry a numeric `id` the daemon chooses; every reply names it.
 * `load` (once, first) answers with the session's capabilities and info,
 * after `status` replies with its load phases; `generate` / `chat` stream
 * `chunks` replies (the text chunks produced since the last one, in order:
 * see {@link CHUNK_FLUSH_MS}) and end with `result`; `cancel` aborts the request
 * `target` (a generation then ends with `stopReason: "abort"`, a load or an
 * embedding with `INTERRUPTED`); `close` frees the model, answers, and the
 * runner exits. A failure is an `error` reply with the LodeError's fields.
 * @module
 */
import { z } from "zod";
import { ERROR_CODES, type ErrorCode, LodeError, toLodeError } from "../../errors.ts";
import { StatusEvent } from "../../events/status_event.ts";
import { checkSchema, parseJsonText } from "../../schema/schema_error.ts";
import type { LoadOptions, ToolCallDelta } from "../../inference/backend.ts";

const Id = z.number().int().nonnegative();
const ToolCall = z.object({ id: z.string(), name: z.string(), arguments: z.string() });
/** `ChatMessage`s of the backend contract: tool calls and results included. */
const Messages = z.array(z.object({
  role: z.enum(["system", "user", "assistant", "tool"]),
  content: z.string(),
  toolCalls: z.array(ToolCall).optional(),
  toolCallId: z.string().optional(),
}));
/** GenerateOptions without the signal (a `cancel` request replaces it); checked by the backend itself. */
const Options = z.record(z.unknown());

/** Every request the daemon sends a runner, tagged by `op`. */
export const RunnerRequest = z.discriminatedUnion("op", [
  z.object({ id: Id, op: z.literal("load"), path: z.string(), options: Options }),
  z.object({ id: Id, op: z.literal("generate"), prompt: z.string(), options: Options }),
  z.object({ id: Id, op: z.literal("chat"), messages: Messages, options: Options }),
  z.object({ id: Id, op: z.literal("renderChat"), messages: Messages }),
  z.object({ id: Id, op: z.literal("embed"), texts: z.array(z.string()), normalize: z.boolean().optional() }),
  z.object({ id: Id, op: z.literal("tokenize"), text: z.string() }),
  z.object({ id: Id, op: z.literal("detokenize"), tokens: z.array(z.number()) }),
  z.object({ id: Id, op: z.literal("cancel"), target: Id }),
  z.object({ id: Id, op: z.literal("close") }),
]);
export type RunnerRequest = z.infer<typeof RunnerRequest>;

/** A request read by {@link decodeRunnerRequest}, or why it could not be (with its id when readable). */
export type DecodedRunnerRequest =
  | { ok: true; request: RunnerRequest }
  | { ok: false; id: number | null; error: LodeError };

/**
 * A runner request from one line; a line that is not one is an `INTERNAL` error (the daemon and its
 * runner are one executable: a bad request is a bug) naming each field, what was expected and found.
 *
 * @example
 * ```ts
 * decodeRunnerRequest('{"id":1,"op":"tokenize","text":"hi"}'); // { ok: true, request: { id: 1, op: "tokenize", text: "hi" } }
 * decodeRunnerRequest('{"id":1,"op":"tokenize"}'); // { ok: false, id: 1, error: … "at text: missing (expected a string)" }
 * ```
 */
export function decodeRunnerRequest(line: string): DecodedRunnerRequest {
  const boundary = { code: "INTERNAL", subject: "a runner request" } as const;
  let value: unknown;
  try {
    value = parseJsonText(line, boundary);
    return { ok: true, request: checkSchema(RunnerRequest, value, boundary) };
  } catch (e) {
    const id = (value as { id?: unknown } | undefined)?.id;
    return { ok: false, id: Id.safeParse(id).success ? id as number : null, error: toLodeError(e) };
  }
}

/**
 * How often, at most, a runner sends a generation's chunks: the first chunk after a quiet period goes out
 * at once; chunks produced within this many milliseconds of the last send go out together (with the next
 * chunk after that time, or by a timer at twice it); see also {@link FAST_CHUNK_FLUSH}. Each message wakes
 * the daemon and then its client, and a Deno process's wake-up costs CPU whatever it carries; on 2 cores
 * that CPU is taken from the runner's own threads (scripts/bench_runner.ts: what a message per token and
 * batches of 4 and 16 ms cost, in docs/benchmarks.md). A model slower than a token per 16 ms streams token
 * by token with no delay; a faster one in batches no later than a display frame, each chunk still
 * delivered on its own and in order.
 *
 * @example
 * ```ts
 * const messagesPerSecond = 1000 / CHUNK_FLUSH_MS; // at most 62 (20 for a fast stream)
 * ```
 */
export const CHUNK_FLUSH_MS = 16;

/**
 * A stream of at least `chunksPerSecond` (4 chunks per {@link CHUNK_FLUSH_MS}) is sent at most every
 * `flushMs` instead: at that speed a display shows batches anyway, and each message costs the daemon and
 * its client more CPU than the tokens in it (scripts/bench_daemon.ts; docs/benchmarks.md). Models slower
 * than 250 tokens/s — every real model on a CPU — keep {@link CHUNK_FLUSH_MS}.
 *
 * @example
 * ```ts
 * const latestMs = 2 * FAST_CHUNK_FLUSH.flushMs; // a chunk of a fast stream waits at most this long
 * ```
 */
export const FAST_CHUNK_FLUSH = { flushMs: 48, chunksPerSecond: 250 } as const;

/** Longest line either end reads (an `embed` of many long texts, or its vectors): 256 MiB. */
export const RUNNER_MAX_LINE_BYTES = 256 * 1024 * 1024;

/** The load options a runner accepts (`onStatus` and `signal` are the protocol's `status` and `cancel`). */
export type RunnerLoadOptions = Omit<LoadOptions, "onStatus" | "signal">;

/** A LodeError's fields, as an `error` reply carries them. */
export interface WireError {
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

/** Every reply of a runner, tagged by `type`. */
export type RunnerReply =
  | { id: number; type: "status"; event: StatusEvent }
  | { id: number; type: "chunks"; texts: string[] }
  /** A piece of a tool call being generated (after every chunk before it). */
  | { id: number; type: "toolCall"; delta: ToolCallDelta }
  | { id: number; type: "result"; value: unknown }
  | { id: number; type: "error"; error: WireError };

/**
 * One message as an NDJSON line of text (the connection encodes it into its write buffer).
 *
 * @example
 * ```ts
 * runnerLine({ id: 1, op: "tokenize", text: "hi" }); // '{"id":1,"op":"tokenize","text":"hi"}\n'
 * ```
 */
export function runnerLine(message: RunnerRequest | RunnerReply): string {
  return JSON.stringify(message) + "\n";
}

/**
 * A runner's reply from one line, or null for a line that is not one.
 * Replies are checked by shape only (this is the hot path of streaming); `status` events fully.
 *
 * @example
 * ```ts
 * decodeRunnerReply('{"id":3,"type":"chunks","texts":[" once"]}'); // { id: 3, type: "chunks", texts: [" once"] }
 * decodeRunnerReply("llama.cpp says hi"); // null
 * ```
 */
export function decodeRunnerReply(line: string): RunnerReply | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const m = value as Record<string, unknown>;
  if (typeof m.id !== "number") return null;
  switch (m.type) {
    case "chunks":
      return Array.isArray(m.texts) && m.texts.every((t) => typeof t === "string") ? m as RunnerReply : null;
    case "result":
      return "value" in m ? m as RunnerReply : null;
    case "toolCall": {
      const d = m.delta as Record<string, unknown> | undefined;
      return typeof d?.index === "number" && typeof d.arguments === "string" ? m as RunnerReply : null;
    }
    case "error": {
      const e = m.error as Record<string, unknown> | undefined;
      return typeof e?.code === "string" && typeof e.message === "string" ? m as RunnerReply : null;
    }
    case "status": {
      const event = StatusEvent.safeParse(m.event);
      return event.success ? { id: m.id, type: "status", event: event.data } : null;
    }
    default:
      return null;
  }
}

/**
 * The wire form of any failure (a LodeError keeps its code, details and hint; anything else is INTERNAL).
 *
 * @example
 * ```ts
 * import { LodeError } from "../../errors.ts";
 * toWireError(new LodeError("USAGE", "tokenize needs a string")).code; // "USAGE"
 * ```
 */
export function toWireError(error: unknown): WireError {
  const e = toLodeError(error);
  return { code: e.code, message: e.message, hint: e.hint, details: jsonSafe(e.details) };
}

/**
 * The LodeError a runner's `error` reply stands for (an unknown code becomes INTERNAL).
 *
 * @example
 * ```ts
 * fromWireError({ code: "MODEL_LOAD_FAILED", message: "not a GGUF file" }).code; // "MODEL_LOAD_FAILED"
 * ```
 */
export function fromWireError(error: WireError): LodeError {
  const code = (Object.hasOwn(ERROR_CODES, error.code) ? error.code : "INTERNAL") as ErrorCode;
  return new LodeError(code, error.message, { details: error.details ?? {}, hint: error.hint });
}

/** `details` that survive JSON (anything that does not serialise is dropped, never thrown). */
function jsonSafe(details: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(details));
  } catch {
    return {};
  }
}
