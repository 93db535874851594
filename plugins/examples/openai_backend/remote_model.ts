/**
 * The model reference of the `openai_backend` example: a `*.remote.json` file naming an OpenAI-compatible
 * server and a model it serves.
 *
 * ```json
 * { "base_url": "http://gpu.internal:8080/v1", "model": "qwen3-8b", "context_size": 8192 }
 * ```
 *
 * - `model` (required): the model id the server knows (`GET /v1/models`).
 * - `base_url`: the server's API root, `/v1` included; default the `LODE_OPENAI_BASE_URL` environment
 *   variable. Its host must be in the plugin's `net` permission.
 * - `context_size`: the server's context in tokens, as its operator set it (the OpenAI API does not say);
 *   0 or absent when unknown.
 * - `has_chat_template`: whether the server's model has a chat template (default false), so `lode run`
 *   chats rather than continues.
 *
 * @example
 * ```ts
 * import { parseRemoteModel } from "./remote_model.ts";
 * parseRemoteModel('{"base_url":"http://127.0.0.1:8080/v1","model":"m"}', "m.remote.json", undefined).model; // "m"
 * ```
 * @module
 */

/** What a `*.remote.json` says, checked, with the base URL resolved. */
export interface RemoteModel {
  /** The API root without a trailing slash (`http://host:port/v1`). */
  baseUrl: string;
  model: string;
  contextSize: number;
  hasChatTemplate: boolean;
}

/** The suffix of the files this backend claims. */
export const REMOTE_SUFFIX = ".remote.json";

/** Why `text` (the file at `path`) is not a remote model, or the model. */
export function parseRemoteModel(text: string, path: string, envBaseUrl: string | undefined): RemoteModel {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path} is not JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`${path} is not a JSON object`);
  }
  const o = value as Record<string, unknown>;
  if (typeof o.model !== "string" || o.model === "") throw new Error(`${path}: "model" must be a model id`);
  const base = o.base_url ?? envBaseUrl;
  if (typeof base !== "string" || !/^https?:\/\//.test(base)) {
    throw new Error(
      `${path}: "base_url" (or LODE_OPENAI_BASE_URL) must be an http(s) URL such as http://host:8080/v1`,
    );
  }
  const size = o.context_size ?? 0;
  if (typeof size !== "number" || !Number.isInteger(size) || size < 0) {
    throw new Error(`${path}: "context_size" must be a whole number of tokens`);
  }
  const chat = o.has_chat_template ?? false;
  if (typeof chat !== "boolean") throw new Error(`${path}: "has_chat_template" must be true or false`);
  return { baseUrl: base.replace(/\/+$/, ""), model: o.model, contextSize: size, hasChatTemplate: chat };
}
