/**
 * What the daemon and a runner process (one loaded model, `lode __runner`) say to each other: the plugin
 * protocol (src/plugin/plugin_protocol.ts, docs/plugins.md), whose backend part the runner implements as
 * a backend plugin built into lode. Frames are NDJSON over a private Unix socket (runner_client.ts
 * listens, the runner connects); the runner's stdout and stderr are its log.
 *
 * Both sides say hello (protocol versions, contract version, features); the daemon then calls
 * `backend.load` once (progress: its status events), then the session's hooks (`session.generate`,
 * `session.chat` streaming progress `{texts}` and `{toolCall}`, `session.renderChat`, `session.embed`,
 * `session.tokenize`, `session.detokenize`, `session.close`), several at once, each cancellable and always
 * answered; `shutdown` frees the model, then `exit` ends the runner. A failure is an `error` frame whose
 * `code`, `message`, `hint` and `details` are the LodeError's, so the daemon raises exactly the runner's
 * error. Every frame the runner reads is checked on arrival; the daemon checks the runner's by shape (the
 * hot path of streaming).
 * @module
 */
import { z } from "zod";
import { ERROR_CODES, type ErrorCode, LodeError, toLodeError } from "../../errors.ts";
import type { ChatMessage, LoadOptions } from "../../inference/backend.ts";
import type { GenerationProgress } from "../../plugin/api.ts";
import {
  type Feature,
  HOST_FEATURES,
  type HostFrame,
  HostFrameSchema,
  LARGE_FRAME_BYTES,
  PluginHello,
  type WireError,
} from "../../plugin/plugin_protocol.ts";
import { checkSchema, parseJsonText } from "../../schema/schema_error.ts";

/**
 * The features the daemon and the runner offer in their hellos: all of the backend part's. The daemon
 * requires them all of a runner (the runner is the same lode executable).
 *
 * @example
 * ```ts
 * RUNNER_FEATURES.includes("chunks"); // true
 * ```
 */
export const RUNNER_FEATURES: readonly Feature[] = HOST_FEATURES;

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

/** Longest line either end reads (the `large_frames` feature: an `embed` of many long texts, or its vectors). */
export const RUNNER_MAX_LINE_BYTES = LARGE_FRAME_BYTES;

/** The load options a runner accepts (`onStatus` and `signal` are the protocol's progress and `cancel`). */
export type RunnerLoadOptions = Omit<LoadOptions, "onStatus" | "signal">;

/** A host frame read by {@link decodeHostFrame}, or why it could not be (with its call's id when readable). */
export type DecodedHostFrame =
  | { ok: true; frame: HostFrame }
  | { ok: false; id: number | null; error: LodeError };

/**
 * A frame of the daemon from one line; a line that is not one is an `INTERNAL` error (the daemon and its
 * runner are one executable: a bad frame is a bug) naming each field, what was expected and found.
 *
 * @example
 * ```ts
 * decodeHostFrame('{"type":"cancel","id":3}'); // { ok: true, frame: { type: "cancel", id: 3 } }
 * decodeHostFrame('{"type":"call","id":1}'); // { ok: false, id: 1, error: … "at hook: missing (expected a string)" }
 * ```
 */
export function decodeHostFrame(line: string): DecodedHostFrame {
  const boundary = { code: "INTERNAL", subject: "a frame of the daemon" } as const;
  let value: unknown;
  try {
    value = parseJsonText(line, boundary);
    return { ok: true, frame: checkSchema(HostFrameSchema, value, boundary) as HostFrame };
  } catch (e) {
    const id = (value as { id?: unknown } | undefined)?.id;
    const known = typeof id === "number" && Number.isInteger(id) && id >= 0;
    return { ok: false, id: known ? id : null, error: toLodeError(e) };
  }
}

/** Every frame of a runner (the plugin side of the protocol), with a generation's progress typed. */
export type RunnerFrame =
  | PluginHello
  | { type: "progress"; id: number; data: GenerationProgress | Record<string, unknown> }
  | { type: "result"; id: number; value: unknown }
  | { type: "error"; id: number; error: WireError };

/**
 * A frame of a runner from one line, or null for a line that is not one. Checked by shape only (this is
 * the hot path of streaming); a hello fully.
 *
 * @example
 * ```ts
 * decodeRunnerFrame('{"type":"progress","id":3,"data":{"texts":[" once"]}}'); // { type: "progress", id: 3, … }
 * decodeRunnerFrame("llama.cpp says hi"); // null
 * ```
 */
export function decodeRunnerFrame(line: string): RunnerFrame | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const m = value as Record<string, unknown>;
  if (m.type === "hello") {
    const hello = PluginHello.safeParse(m);
    return hello.success ? hello.data : null;
  }
  if (typeof m.id !== "number") return null;
  switch (m.type) {
    case "progress":
      return typeof m.data === "object" && m.data !== null ? m as RunnerFrame : null;
    case "result":
      return "value" in m ? m as RunnerFrame : null;
    case "error": {
      const e = m.error as Record<string, unknown> | undefined;
      return typeof e?.kind === "string" && typeof e.message === "string" ? m as RunnerFrame : null;
    }
    default:
      return null;
  }
}

/**
 * One frame as an NDJSON line of text (the connection encodes it into its write buffer).
 *
 * @example
 * ```ts
 * frameLine({ type: "cancel", id: 3 }); // '{"type":"cancel","id":3}\n'
 * ```
 */
export function frameLine(frame: HostFrame | RunnerFrame): string {
  return JSON.stringify(frame) + "\n";
}

/**
 * The wire form of any failure: kind `failed` (or `cancelled` for a call the daemon cancelled) with the
 * LodeError's code, message, hint and details (anything not a LodeError is INTERNAL).
 *
 * @example
 * ```ts
 * import { LodeError } from "../../errors.ts";
 * toWireError(new LodeError("USAGE", "tokenize needs a string"), false).code; // "USAGE"
 * ```
 */
export function toWireError(error: unknown, cancelled: boolean): WireError {
  const e = toLodeError(error);
  return {
    kind: cancelled ? "cancelled" : "failed",
    code: e.code,
    message: e.message,
    ...(e.hint ? { hint: e.hint } : {}),
    details: jsonSafe(e.details),
  };
}

/**
 * The LodeError a runner's `error` frame stands for: its code when the catalogue has it, else INTERNAL.
 *
 * @example
 * ```ts
 * fromWireError({ kind: "failed", code: "MODEL_LOAD_FAILED", message: "not a GGUF file" }).code; // "MODEL_LOAD_FAILED"
 * ```
 */
export function fromWireError(error: WireError): LodeError {
  const known = error.code !== undefined && Object.hasOwn(ERROR_CODES, error.code);
  const code = (known ? error.code : "INTERNAL") as ErrorCode;
  const details = {
    ...error.details,
    ...(known || error.code === undefined ? {} : { runner_code: error.code }),
  };
  return new LodeError(code, error.message, { details, hint: error.hint });
}

/** `details` that survive JSON (anything that does not serialise is dropped, never thrown). */
function jsonSafe(details: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(details));
  } catch {
    return {};
  }
}

/** The params of the calls a runner answers, checked on arrival (`INTERNAL` naming the field otherwise). */
/** Chat messages, checked by the backend itself (a bad role or content is `USAGE`, as in process). */
const Messages = z.array(z.record(z.unknown())).transform((m) => m as unknown as ChatMessage[]);
/** Options checked by the backend itself (it refuses a bad one with `USAGE` as in process). */
const Options = z.record(z.unknown());
const Session = z.string();

/** Each hook's params. */
export const RUNNER_CALLS = {
  "backend.probe": z.object({ path: z.string() }),
  "backend.load": z.object({ path: z.string(), options: Options.default({}) }),
  "session.generate": z.object({ session: Session, prompt: z.string(), options: Options.default({}) }),
  "session.chat": z.object({ session: Session, messages: Messages, options: Options.default({}) }),
  "session.renderChat": z.object({ session: Session, messages: Messages }),
  "session.embed": z.object({
    session: Session,
    texts: z.array(z.string()),
    options: z.object({ normalize: z.boolean().optional() }).default({}),
  }),
  "session.tokenize": z.object({ session: Session, text: z.string() }),
  "session.detokenize": z.object({ session: Session, tokens: z.array(z.number()) }),
  "session.close": z.object({ session: Session }),
  "shutdown": z.null().optional(),
} as const;

/** A hook a runner answers. */
export type RunnerHook = keyof typeof RUNNER_CALLS;

/** A call a runner answers, with its params checked. */
export type RunnerCall = {
  [H in RunnerHook]: { hook: H; params: z.infer<(typeof RUNNER_CALLS)[H]> };
}[RunnerHook];

/**
 * A call's hook and params checked: the {@link RunnerCall}, null for a hook the runner does not answer,
 * or the `INTERNAL` error naming the field.
 *
 * @example
 * ```ts
 * checkRunnerCall("session.tokenize", { session: "s1", text: "hi" }); // { hook: "session.tokenize", params: … }
 * checkRunnerCall("registry.resolve", {}); // null
 * ```
 */
export function checkRunnerCall(hook: string, params: unknown): RunnerCall | null {
  if (!Object.hasOwn(RUNNER_CALLS, hook)) return null;
  const schema = RUNNER_CALLS[hook as RunnerHook] as z.ZodTypeAny;
  const checked = checkSchema(schema, params, { code: "INTERNAL", subject: `a ${hook} call` });
  return { hook, params: checked } as RunnerCall;
}
