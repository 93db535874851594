/**
 * An error as the OpenAI front reports it, in OpenAI's terms rather than
 * lode's command line's: an unknown model is OpenAI's `model_not_found`
 * (404, `The model 'x' does not exist`, on every endpoint, without the
 * store's path); a refused request field is `BAD_REQUEST` with `param`
 * naming the field (a `USAGE` error from sampling checks included) and a
 * hint about the request, not about command flags; `BAD_JSON` hints at the
 * body. Other errors keep their message and the catalogue's hint.
 *
 * @example
 * ```ts
 * import { LodeError } from "../../errors.ts";
 * import { inOpenAiTerms } from "./openai_errors.ts";
 * const e = inOpenAiTerms(new LodeError("MODEL_NOT_FOUND", "no model named \"x\" in /store", { details: { name: "x" } }));
 * // e.code === "model_not_found"; e.message === "The model 'x' does not exist"; e.param === "model"
 * ```
 * @module
 */
import { asDaemonError, ERROR_CODES, type ErrorCode, type LodeError } from "../../errors.ts";

/** The parts of an OpenAI error body lode fills in. */
export interface OpenAiTerms {
  /** The lode code the HTTP status is chosen from. */
  status: ErrorCode;
  /** The `code` field: OpenAI's where it has one clients look for, else lode's stable code. */
  code: string;
  message: string;
  param: string | null;
  hint: string;
  details: Record<string, unknown>;
}

const REQUEST_HINT = "Fix the field named in `param`; docs/daemon.md lists the OpenAI fields lode accepts " +
  "and what it refuses.";
const MODEL_HINT = "GET /v1/models lists the models this server has; send one of their ids as `model`.";

/** OpenAI's own code for a lode code, where OpenAI has one that clients look for. */
const OPENAI_CODE: Partial<Record<ErrorCode, string>> = {
  CONTEXT_LENGTH_EXCEEDED: "context_length_exceeded",
};

/**
 * `e` in OpenAI's terms (see the module doc).
 *
 * @example
 * ```ts
 * import { LodeError } from "../../errors.ts";
 * inOpenAiTerms(new LodeError("USAGE", "seed must be an integer ≥ 0, got -2", { details: { seed: "-2" } })).param; // "seed"
 * ```
 */
export function inOpenAiTerms(e: LodeError): OpenAiTerms {
  const model = modelOf(e);
  if (model !== null) {
    return {
      status: "MODEL_NOT_FOUND",
      code: "model_not_found",
      message: `The model '${model}' does not exist`,
      param: "model",
      hint: MODEL_HINT,
      details: { model },
    };
  }
  const field = typeof e.details.field === "string" ? e.details.field : null;
  if (e.code === "USAGE" || e.code === "BAD_REQUEST") {
    return {
      status: "BAD_REQUEST",
      code: "BAD_REQUEST",
      message: e.message,
      param: field ?? usageParam(e.details),
      hint: e.code === "USAGE" || e.hint === ERROR_CODES[e.code].hint ? REQUEST_HINT : e.hint,
      details: e.details,
    };
  }
  if (e.code === "BAD_JSON") {
    return {
      status: e.code,
      code: e.code,
      message: e.message,
      param: null,
      hint: "Send the body as one JSON object with Content-Type: application/json.",
      details: e.details,
    };
  }
  return {
    status: e.code,
    code: OPENAI_CODE[e.code] ?? e.code,
    message: e.message,
    param: field,
    hint: asDaemonError(e).hint,
    details: e.details,
  };
}

/** The model an unknown-model error is about, or null for other errors. */
function modelOf(e: LodeError): string | null {
  if (e.code !== "MODEL_NOT_FOUND" && !(e.code === "INVALID_REF" && "name" in e.details)) return null;
  const name = e.details.model ?? e.details.name ?? e.details.ref;
  return typeof name === "string" ? name : null;
}

/** The request field a sampling check's `USAGE` is about (`{ topP: "0" }` → `top_p`). */
function usageParam(details: Record<string, unknown>): string | null {
  const keys = Object.keys(details);
  if (keys.length !== 1) return null;
  return keys[0]!.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
