/**
 * The calls the `openai_backend` example makes to an OpenAI-compatible server: a request with its bearer
 * token, server-sent events read as they come, and the server's errors as lode's error codes.
 *
 * An error body `{"error":{"code","message","details"}}` keeps its code when it is one of lode's
 * (another `lode serve` answered: `SCHEMA_INVALID`, `CONTEXT_LENGTH_EXCEEDED` with its numbers in
 * `details`, …); OpenAI's `context_length_exceeded` becomes `CONTEXT_LENGTH_EXCEEDED`; anything else is
 * `INFERENCE_FAILED` naming the status.
 *
 * @example
 * ```ts
 * import { errorFromBody } from "./openai_client.ts";
 * errorFromBody(400, { error: { code: "context_length_exceeded", message: "too long" } }).code; // "CONTEXT_LENGTH_EXCEEDED"
 * ```
 * @module
 */
import { PluginError } from "../../sdk/mod.ts";
import type { RemoteModel } from "./remote_model.ts";

const OPENAI_CODES: Record<string, string> = {
  context_length_exceeded: "CONTEXT_LENGTH_EXCEEDED",
  model_not_found: "MODEL_NOT_FOUND",
};

/** The {@link PluginError} of an error body the server sent with `status`. */
export function errorFromBody(status: number, body: unknown): PluginError {
  const error = (body as { error?: Record<string, unknown> } | null)?.error;
  const message = typeof error?.message === "string" ? error.message : `the server answered HTTP ${status}`;
  const raw = typeof error?.code === "string" ? error.code : "";
  const code = OPENAI_CODES[raw] ?? (/^[A-Z][A-Z_]+$/.test(raw) ? raw : "INFERENCE_FAILED");
  const details = typeof error?.details === "object" && error.details !== null
    ? error.details as Record<string, unknown>
    : {};
  return new PluginError(code, message, { ...details, http_status: status });
}

/** The bearer token from `LODE_OPENAI_API_KEY`, when set (and readable). */
function apiKey(): string | undefined {
  try {
    return Deno.env.get("LODE_OPENAI_API_KEY") || undefined;
  } catch {
    return undefined;
  }
}

/** `POST`s (or `GET`s, without a body) `path` under the model's base URL; a non-2xx is thrown as an error. */
export async function request(
  remote: RemoteModel,
  path: string,
  body: unknown,
  signal: AbortSignal,
): Promise<Response> {
  const key = apiKey();
  let response: Response;
  try {
    response = await fetch(`${remote.baseUrl}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal,
    });
  } catch (e) {
    if (signal.aborted) throw e;
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) throw e;
    throw new PluginError("INFERENCE_FAILED", `cannot reach ${remote.baseUrl}: ${(e as Error).message}`);
  }
  if (!response.ok) {
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: the status says it.
    }
    throw errorFromBody(response.status, parsed);
  }
  return response;
}

/** The `data:` payloads of a server-sent event stream, parsed, until `[DONE]` or the end. */
export async function* events(response: Response): AsyncGenerator<Record<string, unknown>> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of response.body!) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.search(/\r?\n/)) !== -1) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + (buffered[end] === "\r" ? 2 : 1));
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") return;
      const event = JSON.parse(data) as Record<string, unknown>;
      if (event.error !== undefined) throw errorFromBody(500, event);
      yield event;
    }
  }
}
