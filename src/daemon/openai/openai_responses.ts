/**
 * lode's answers in OpenAI's shapes (docs/protocol.md, "OpenAI-compatible
 * HTTP"): completion and chat responses, streamed chunks, embeddings and the
 * model list. Errors and the JSON response they are all sent as are
 * error_response.ts's, re-exported here.
 *
 * @example
 * ```ts
 * import { chatBody, json } from "./openai_responses.ts";
 * const body = chatBody({ id: "chatcmpl-1", created: 0, model: "m", text: "Hello", stopReason: "eos" });
 * const response = json(200, body);
 * ```
 * @module
 */
import type { StopReason, ToolCall, Usage } from "../../inference/backend.ts";
import type { ModelEntry } from "../wire/protocol.ts";
import { openAiToolCalls } from "./openai_tools.ts";

export {
  errorBody,
  errorResponse,
  HttpRefusal,
  httpStatus,
  json,
  methodNotAllowed,
} from "./error_response.ts";

/** OpenAI's `finish_reason`. */
export type FinishReason = "stop" | "length" | "tool_calls";

/**
 * OpenAI's `finish_reason` for a stop reason: `eos` and `stop` → `stop`,
 * `max_tokens` and `context_full` → `length`, `tool_calls` → `tool_calls`
 * (an `abort` only reaches a client that stopped reading: `stop`).
 *
 * @example
 * ```ts
 * finishReason("context_full"); // "length"
 * ```
 */
export function finishReason(stopReason: StopReason | undefined): FinishReason {
  if (stopReason === "tool_calls") return "tool_calls";
  return stopReason === "max_tokens" || stopReason === "context_full" ? "length" : "stop";
}

/** OpenAI's `usage` of a generation. */
export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/**
 * OpenAI's `usage` of a generation's {@link Usage}.
 *
 * @example
 * ```ts
 * const usage = { promptTokens: 5, generatedTokens: 40, loadMs: 0, timeToFirstTokenMs: 3, totalMs: 50, tokensPerSecond: 800 };
 * openAiUsage(usage); // { prompt_tokens: 5, completion_tokens: 40, total_tokens: 45 }
 * ```
 */
export function openAiUsage(usage: Usage | undefined): OpenAiUsage {
  const prompt = usage?.promptTokens ?? 0;
  const completion = usage?.generatedTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** What the response builders need to know about a finished or running generation. */
export interface Answer {
  /** The response id (`cmpl-…`, `chatcmpl-…`). */
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
  text: string;
  stopReason?: StopReason;
  usage?: Usage;
  /** The tools the answer calls (chat). */
  toolCalls?: ToolCall[];
}

/**
 * The `/v1/completions` response (`object: "text_completion"`).
 *
 * @example
 * ```ts
 * completionBody({ id: "cmpl-1", created: 0, model: "m", text: ", there was", stopReason: "max_tokens" });
 * ```
 */
export function completionBody(a: Answer): Record<string, unknown> {
  return {
    id: a.id,
    object: "text_completion",
    created: a.created,
    model: a.model,
    choices: [{ index: 0, text: a.text, logprobs: null, finish_reason: finishReason(a.stopReason) }],
    usage: openAiUsage(a.usage),
  };
}

/**
 * The `/v1/chat/completions` response (`object: "chat.completion"`).
 *
 * @example
 * ```ts
 * chatBody({ id: "chatcmpl-1", created: 0, model: "m", text: "Hello!", stopReason: "eos" });
 * ```
 */
export function chatBody(a: Answer): Record<string, unknown> {
  const calls = a.toolCalls ?? [];
  return {
    id: a.id,
    object: "chat.completion",
    created: a.created,
    model: a.model,
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: a.text === "" && calls.length > 0 ? null : a.text,
        refusal: null,
        ...(calls.length > 0 ? { tool_calls: openAiToolCalls(calls) } : {}),
      },
      logprobs: null,
      finish_reason: finishReason(a.stopReason),
    }],
    usage: openAiUsage(a.usage),
  };
}

/** Which streaming API a chunk belongs to. */
export type ChunkKind = "completion" | "chat";

/**
 * One streamed chunk: a piece of text (`finish` absent), or the last chunk
 * with `finish_reason` (`text` empty). Chat chunks carry `delta.content`
 * (the first one also `delta.role`), completion chunks `text`.
 *
 * @example
 * ```ts
 * chunk("chat", { id: "c1", created: 0, model: "m", text: "Hel" }, { first: true });
 * chunk("chat", { id: "c1", created: 0, model: "m", text: "", stopReason: "eos" }, { finish: true });
 * ```
 */
export function chunk(
  kind: ChunkKind,
  a: Answer,
  options: { first?: boolean; finish?: boolean } = {},
): Record<string, unknown> {
  const finish = options.finish ? finishReason(a.stopReason) : null;
  const head = { id: a.id, created: a.created, model: a.model };
  if (kind === "completion") {
    return {
      ...head,
      object: "text_completion",
      choices: [{ index: 0, text: a.text, logprobs: null, finish_reason: finish }],
    };
  }
  const delta: Record<string, unknown> = options.finish ? {} : { content: a.text };
  if (options.first) delta.role = "assistant";
  return {
    ...head,
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
}

/**
 * A chunk of tool calls, before the last one: `delta.tool_calls` with `entries` (openai_tools.ts: pieces
 * of calls as they are generated, or whole calls).
 *
 * @example
 * ```ts
 * import { toolCallDeltas } from "./openai_tools.ts";
 * toolCallsChunk({ id: "c1", created: 0, model: "m", text: "" }, toolCallDeltas([{ id: "call_1", name: "f", arguments: "{}" }]));
 * ```
 */
export function toolCallsChunk(a: Answer, entries: Record<string, unknown>[]): Record<string, unknown> {
  return {
    id: a.id,
    created: a.created,
    model: a.model,
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta: { tool_calls: entries }, logprobs: null, finish_reason: null }],
  };
}

/**
 * The chunk that carries `usage` after the last one (`stream_options.include_usage`): no choices.
 *
 * @example
 * ```ts
 * const usage = { promptTokens: 3, generatedTokens: 8, loadMs: 0, timeToFirstTokenMs: 2, totalMs: 9, tokensPerSecond: 900 };
 * usageChunk("chat", { id: "c1", created: 0, model: "m", text: "", usage });
 * ```
 */
export function usageChunk(kind: ChunkKind, a: Answer): Record<string, unknown> {
  const object = kind === "chat" ? "chat.completion.chunk" : "text_completion";
  return { id: a.id, object, created: a.created, model: a.model, choices: [], usage: openAiUsage(a.usage) };
}

/**
 * The `/v1/embeddings` response: `data[i].embedding` in input order, as
 * numbers or (with `base64`) base64 of little-endian float32.
 *
 * @example
 * ```ts
 * embeddingsBody({ model: "m", embeddings: [[0.6, 0.8]], promptTokens: 3, base64: false });
 * ```
 */
export function embeddingsBody(
  options: { model: string; embeddings: number[][]; promptTokens: number; base64: boolean },
): Record<string, unknown> {
  return {
    object: "list",
    model: options.model,
    data: options.embeddings.map((v, index) => ({
      object: "embedding",
      index,
      embedding: options.base64 ? float32Base64(v) : v,
    })),
    usage: { prompt_tokens: options.promptTokens, total_tokens: options.promptTokens },
  };
}

/**
 * A vector as base64 of its little-endian float32 bytes.
 *
 * @example
 * ```ts
 * float32Base64([1]); // "AACAPw=="
 * ```
 */
export function float32Base64(vector: number[]): string {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  vector.forEach((x, i) => view.setFloat32(i * 4, x, true));
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * A model as `/v1/models` lists it (`owned_by: "lode"`, plus lode's `loaded`).
 *
 * @example
 * ```ts
 * modelObject({ name: "stories260K", loaded: true }, 0); // { id: "stories260K", object: "model", created: 0, owned_by: "lode", loaded: true }
 * ```
 */
export function modelObject(entry: ModelEntry, created: number): Record<string, unknown> {
  return { id: entry.name, object: "model", created, owned_by: "lode", loaded: entry.loaded };
}

/**
 * The `/v1/models` list.
 *
 * @example
 * ```ts
 * modelsBody([{ name: "stories260K", loaded: false }], 0).data;
 * ```
 */
export function modelsBody(entries: ModelEntry[], created: number): Record<string, unknown> {
  return { object: "list", data: entries.map((e) => modelObject(e, created)) };
}
