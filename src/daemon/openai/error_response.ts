/**
 * The front's errors as HTTP responses: OpenAI's error body
 * `{"error":{message,type,param,code}}` with lode's stable code and an HTTP
 * status chosen from it ({@link errorResponse}), a refusal with a status of
 * its own ({@link HttpRefusal}: 401, 405), and the JSON response every
 * non-streamed answer is sent as ({@link json}).
 *
 * @example
 * ```ts
 * import { LodeError } from "../../errors.ts";
 * import { errorResponse } from "./error_response.ts";
 * const refused = errorResponse(new LodeError("QUEUE_FULL", "the queue is full")); // 429
 * ```
 * @module
 */
import { type ErrorCode, LodeError, toLodeError } from "../../errors.ts";
import { inOpenAiTerms } from "./openai_errors.ts";

const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  BAD_JSON: 400,
  SCHEMA_INVALID: 400,
  USAGE: 400,
  INVALID_REF: 400,
  CONTEXT_LENGTH_EXCEEDED: 400,
  SCHEMA_MISMATCH: 422,
  UNKNOWN_OP: 404,
  MODEL_NOT_FOUND: 404,
  FILE_NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  JOB_FINISHED: 409,
  ACCESS_DENIED: 403,
  FRAME_TOO_LARGE: 413,
  QUEUE_FULL: 429,
  DRAINING: 503,
};

const TYPE: Record<number, string> = {
  400: "invalid_request_error",
  403: "permission_error",
  404: "invalid_request_error",
  409: "invalid_request_error",
  413: "invalid_request_error",
  429: "rate_limit_error",
  503: "service_unavailable",
};

/**
 * The HTTP status for a lode error code: 400 bad request (and `SCHEMA_INVALID`, `CONTEXT_LENGTH_EXCEEDED`), 403 refused, 404 no such model
 * or endpoint, 413 body too large, 422 `SCHEMA_MISMATCH` (an answer that broke a constraint checked after generation; not
 * worth retrying as is), 429 `QUEUE_FULL`, 503 `DRAINING`, 500 otherwise.
 *
 * @example
 * ```ts
 * httpStatus("QUEUE_FULL"); // 429
 * ```
 */
export function httpStatus(code: string): number {
  return STATUS[code as ErrorCode] ?? 500;
}

/**
 * OpenAI's error body for anything thrown: `{"error":{"message","type","param","code","hint"}}` where `code`
 * is lode's stable code (OpenAI's own where it has one: `context_length_exceeded`, `model_not_found`) and
 * `param` the offending field (or null), with its HTTP status; messages and hints in OpenAI's terms
 * (openai_errors.ts).
 *
 * @example
 * ```ts
 * import { LodeError } from "../../errors.ts";
 * errorBody(new LodeError("QUEUE_FULL", "the queue is full")); // { status: 429, body: { error: { code: "QUEUE_FULL", … } } }
 * ```
 */
export function errorBody(error: unknown): { status: number; body: { error: Record<string, unknown> } } {
  const e = inOpenAiTerms(toLodeError(error));
  const status = httpStatus(e.status);
  return {
    status,
    body: {
      error: {
        message: e.message,
        type: TYPE[status] ?? "server_error",
        param: e.param,
        code: e.code,
        hint: e.hint,
        ...(Object.keys(e.details).length > 0 ? { details: e.details } : {}),
      },
    },
  };
}

/**
 * A LodeError answered with a status of its own (401 without the API key, 405 for a wrong method).
 *
 * @example
 * ```ts
 * throw new HttpRefusal(405, "BAD_REQUEST", "/v1/embeddings takes POST", { details: { field: "(method)" } });
 * ```
 */
export class HttpRefusal extends LodeError {
  readonly status: number;
  constructor(status: number, ...args: ConstructorParameters<typeof LodeError>) {
    super(...args);
    this.status = status;
  }
}

/**
 * A JSON response.
 *
 * @example
 * ```ts
 * json(200, { object: "list", data: [] });
 * ```
 */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/**
 * The error response for anything thrown (see {@link errorBody}); a 429
 * says `retry-after: 1`, a 503 (draining) tells the `openai` client not to retry.
 *
 * @example
 * ```ts
 * import { LodeError } from "../../errors.ts";
 * errorResponse(new LodeError("DRAINING", "shutting down")).status; // 503
 * ```
 */
export function errorResponse(e: unknown): Response {
  const { status: mapped, body } = errorBody(e);
  const status = e instanceof HttpRefusal ? e.status : mapped;
  const headers: Record<string, string> = {};
  if (status === 429) headers["retry-after"] = "1";
  if (status === 503) headers["x-should-retry"] = "false";
  if (status === 401) body.error.type = "authentication_error";
  return json(status, body, headers);
}

/**
 * `405 Method Not Allowed` for `path`, with its `Allow` header, as an OpenAI error body.
 *
 * @example
 * ```ts
 * methodNotAllowed("POST", "/v1/embeddings"); // 405, allow: POST
 * ```
 */
export function methodNotAllowed(allow: string, path: string): Response {
  const error = new HttpRefusal(405, "BAD_REQUEST", `${path} takes ${allow}`, {
    details: { field: "(method)" },
  });
  const response = errorResponse(error);
  response.headers.set("allow", allow);
  return response;
}
