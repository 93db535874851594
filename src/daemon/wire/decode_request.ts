/**
 * Reading the daemon's wire: one request line into a typed {@link Request} (protocol.ts holds the
 * schemas), and the `error` frames that answer a line that is not one.
 *
 * @example
 * ```ts
 * import { decodeRequest } from "./decode_request.ts";
 * const decoded = decodeRequest('{"id":"1","op":"tokenize","model":"m","text":"hi"}');
 * if (decoded.ok) console.log(decoded.request.op); // "tokenize"
 * else console.log(JSON.stringify(decoded.error)); // the error frame to send back
 * ```
 * @module
 */
import type { z } from "zod";
import { asDaemonError, LodeError } from "../../errors.ts";
import { schemaError } from "../../schema/schema_error.ts";
import {
  type ErrorFrame,
  MAX_ID_LENGTH,
  MAX_MODEL_LENGTH,
  OPS,
  PROTOCOL_VERSION,
  Request,
  RequestId,
} from "./protocol.ts";

/** Result of {@link decodeRequest}: a typed request, or the error frame to send back. */
export type DecodeResult = { ok: true; request: Request } | { ok: false; error: ErrorFrame };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Turns one request line (without its newline) into a typed request, or into
 * the error frame that answers it: `BAD_JSON` (not UTF-8 or not JSON),
 * `BAD_REQUEST` (not an object, a missing or invalid field — named in
 * `details.field`), `UNKNOWN_OP`. The error frame carries the request's id
 * whenever it is readable.
 *
 * @example
 * ```ts
 * const r = decodeRequest('{"id":"7","op":"generate","model":"m"}');
 * // r.ok === false; r.error: {id:"7", type:"error", code:"BAD_REQUEST", details:{field:"prompt",…}, …}
 * ```
 */
export function decodeRequest(line: Uint8Array | string): DecodeResult {
  let text: string;
  try {
    text = typeof line === "string" ? line : utf8.decode(line);
  } catch {
    return fail(null, new LodeError("BAD_JSON", "the line is not valid UTF-8"));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return fail(
      null,
      new LodeError("BAD_JSON", `the line is not JSON: ${(e as Error).message}`, {
        details: { line: text.length > 120 ? text.slice(0, 120) + "…" : text },
      }),
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(null, badRequest("(frame)", 'a request is a JSON object with "id" and "op"'));
  }
  const raw = value as Record<string, unknown>;
  const id = typeof raw.id === "string" && raw.id.length >= 1 && raw.id.length <= MAX_ID_LENGTH
    ? raw.id
    : null;
  if (id === null) {
    return fail(null, badRequest("id", `"id" must be a string of 1 to ${MAX_ID_LENGTH} characters`));
  }
  if (raw.op === undefined) return fail(id, badRequest("op", `"op" is missing; one of ${OPS.join(", ")}`));
  if (typeof raw.op !== "string" || !(OPS as readonly string[]).includes(raw.op)) {
    return fail(
      id,
      new LodeError(
        "UNKNOWN_OP",
        `unknown op ${JSON.stringify(raw.op)}; this daemon knows ${OPS.join(", ")}`,
        {
          details: { op: raw.op, known: [...OPS] },
        },
      ),
    );
  }
  if (raw.v !== undefined && raw.v !== PROTOCOL_VERSION) {
    return fail(
      id,
      badRequest(
        "v",
        `protocol version ${
          JSON.stringify(raw.v)
        } is not spoken here; this daemon speaks ${PROTOCOL_VERSION}`,
      ),
    );
  }
  const hot = hotRequest(raw, id);
  if (hot !== null) return { ok: true, request: hot };
  const parsed = Request.safeParse(raw);
  if (parsed.success) return { ok: true, request: parsed.data };
  return fail(id, invalidFrame(parsed.error, raw, `${raw.op} request`, Request));
}

/**
 * `health` and a well-formed `tokenize` (the ops clients send by the thousand) checked by hand as
 * {@link Request} would check them, unknown fields dropped alike; null for everything else (and for any
 * doubt), which {@link Request} then decodes. Saves a schema pass per request; protocol_test checks both
 * agree. `id` and `v` are already checked.
 */
function hotRequest(raw: Record<string, unknown>, id: string): Request | null {
  const v = raw.v as number | undefined;
  if (raw.op === "health") return v === undefined ? { id, op: "health" } : { id, op: "health", v };
  const { model, text } = raw;
  if (
    raw.op !== "tokenize" || typeof model !== "string" || model.length < 1 ||
    model.length > MAX_MODEL_LENGTH ||
    typeof text !== "string"
  ) return null;
  return v === undefined ? { id, op: "tokenize", model, text } : { id, op: "tokenize", v, model, text };
}

/**
 * The `BAD_REQUEST` for a frame that breaks its schema: the message names each field, what was expected
 * and what was found (src/schema/schema_issues.ts); `details.issues` lists them, `details.field` is the first
 * one's path in the protocol's dotted form (`messages.0.role`).
 *
 * @example
 * ```ts
 * import { Request } from "./protocol.ts";
 * const raw = { id: "7", op: "generate", model: "m" };
 * const r = Request.safeParse(raw);
 * if (!r.success) invalidFrame(r.error, raw, "generate request", Request).message;
 * // 'generate request is invalid at prompt: missing (expected a string)'
 * ```
 */
export function invalidFrame(
  error: z.ZodError,
  frame: unknown,
  subject: string,
  schema: z.ZodTypeAny,
): LodeError {
  const e = schemaError(error, frame, { code: "BAD_REQUEST", subject }, { schema });
  const field = String(e.details.field).replace(/\[(\d+)\]/g, ".$1");
  return new LodeError(e.code, e.message, { details: { ...e.details, field } });
}

function badRequest(field: string, message: string): LodeError {
  return new LodeError("BAD_REQUEST", message, { details: { field } });
}

function fail(id: string | null, error: LodeError): DecodeResult {
  return { ok: false, error: errorFrame(id, error) };
}

/**
 * The `error` frame for `error` (a {@link LodeError}, or anything, which is
 * reported as `INTERNAL`), answering request `id`.
 *
 * @example
 * ```ts
 * import { LodeError } from "../../errors.ts";
 * errorFrame("7", new LodeError("QUEUE_FULL", "64 requests are queued"));
 * ```
 */
export function errorFrame(id: string | null, error: unknown): ErrorFrame {
  const e = error instanceof LodeError
    ? error
    : new LodeError("INTERNAL", error instanceof Error ? error.message : String(error));
  // The daemon's frame: a hint about settings names the daemon's (`lode serve --ca-cert`, …), not the client's.
  const hint = asDaemonError(e).hint;
  const frame: ErrorFrame = { id, type: "error", code: e.code, message: e.message, hint };
  if (Object.keys(e.details).length > 0) frame.details = e.details;
  return frame;
}

/**
 * The error frame for a request line longer than `limit` bytes; `id` is the
 * id read from the line's start, when there was one.
 *
 * @example
 * ```ts
 * frameTooLargeFrame(null, 4 * 1024 * 1024);
 * ```
 */
export function frameTooLargeFrame(id: string | null, limit: number): ErrorFrame {
  return errorFrame(
    id,
    new LodeError("FRAME_TOO_LARGE", `the request line is longer than the limit of ${limit} bytes`, {
      details: { limit },
    }),
  );
}

/**
 * The id of a request from the first bytes of a line too long to parse
 * (`"id":"…"` near its start), or null.
 *
 * @example
 * ```ts
 * idFromPrefix('{"id":"big-1","op":"embed","input":"aaaa'); // "big-1"
 * ```
 */
export function idFromPrefix(prefix: string): string | null {
  const m = /^\s*\{[^]*?"id"\s*:\s*("(?:[^"\\]|\\.){1,256}")/.exec(prefix);
  if (!m) return null;
  try {
    const id = JSON.parse(m[1]!);
    return RequestId.safeParse(id).success ? id : null;
  } catch {
    return null;
  }
}
