/**
 * The body of `POST /v1/batches` checked: `input_file_id`, `endpoint` (one a batch line may name:
 * `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`), `completion_window` (`24h`, the only one
 * OpenAI offers), `metadata` (at most 16 string pairs, keys up to 64 characters, values up to 512) and
 * `output_expires_after` (`{anchor: "created_at", seconds}`, an hour to 30 days: the output and error files
 * expire that long after they are made).
 * Anything else is `BAD_REQUEST` naming the field.
 *
 * @example
 * ```ts
 * import { batchCreateParams } from "./batch_params.ts";
 * batchCreateParams({ input_file_id: "file-1", endpoint: "/v1/chat/completions", completion_window: "24h" });
 * ```
 * @module
 */
import { BATCH_URLS } from "./batch_input.ts";
import { badRequest } from "../openai/openai_translate.ts";
import { EXPIRES_AFTER_SECONDS } from "./file_store.ts";

/** A checked create request. */
export interface BatchCreateParams {
  input_file_id: string;
  endpoint: string;
  completion_window: "24h";
  metadata: Record<string, string> | null;
  output_expires_after_seconds: number | null;
}

/** `body` checked as a create request (see the module doc). */
export function batchCreateParams(body: unknown): BatchCreateParams {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw badRequest("(body)", "the body must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  if (typeof b.input_file_id !== "string" || b.input_file_id === "") {
    throw badRequest("input_file_id", "input_file_id must be the id of a file uploaded with purpose batch");
  }
  if (typeof b.endpoint !== "string" || !(BATCH_URLS as readonly string[]).includes(b.endpoint)) {
    throw badRequest(
      "endpoint",
      `endpoint must be one of ${BATCH_URLS.join(", ")}, got ${JSON.stringify(b.endpoint ?? null)}`,
    );
  }
  if (b.completion_window !== "24h") {
    throw badRequest(
      "completion_window",
      `completion_window must be "24h", got ${JSON.stringify(b.completion_window ?? null)}`,
    );
  }
  return {
    input_file_id: b.input_file_id,
    endpoint: b.endpoint,
    completion_window: "24h",
    metadata: metadataOf(b.metadata),
    output_expires_after_seconds: expiresAfterOf(b.output_expires_after),
  };
}

function expiresAfterOf(raw: unknown): number | null {
  if (raw === undefined || raw === null) return null;
  const o = raw as { anchor?: unknown; seconds?: unknown };
  if (typeof raw !== "object" || Array.isArray(raw) || o.anchor !== "created_at") {
    throw badRequest(
      "output_expires_after.anchor",
      'output_expires_after must be {"anchor": "created_at", "seconds": N}',
    );
  }
  const { min, max } = EXPIRES_AFTER_SECONDS;
  if (typeof o.seconds !== "number" || !Number.isInteger(o.seconds) || o.seconds < min || o.seconds > max) {
    throw badRequest(
      "output_expires_after.seconds",
      `output_expires_after.seconds must be a whole number of seconds from ${min} to ${max}`,
    );
  }
  return o.seconds;
}

function metadataOf(raw: unknown): Record<string, string> | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw badRequest("metadata", "metadata must be an object");
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > 16) {
    throw badRequest("metadata", `metadata holds at most 16 pairs, got ${entries.length}`);
  }
  for (const [key, value] of entries) {
    if (key.length > 64) {
      throw badRequest("metadata", `the metadata key ${JSON.stringify(key)} is over 64 characters`);
    }
    if (typeof value !== "string" || value.length > 512) {
      throw badRequest(
        "metadata",
        `the metadata value of ${JSON.stringify(key)} must be a string of at most 512 characters`,
      );
    }
  }
  return Object.fromEntries(entries) as Record<string, string>;
}
