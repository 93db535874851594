/**
 * OpenAI request bodies as lode protocol requests (docs/protocol.md,
 * "OpenAI-compatible HTTP"): bodies of `/v1/completions`,
 * `/v1/chat/completions` and `/v1/embeddings` become {@link Request}s
 * (`generate`, `chat`, `embed`). The answers go the other way in
 * openai_responses.ts.
 *
 * Request fields are checked twice: their OpenAI shape here (a field lode
 * cannot honour — `n` > 1, `functions`, `logprobs`, `top_logprobs`, `echo`,
 * token-id prompts — is a `BAD_REQUEST` naming it, not silently dropped),
 * then the protocol's schema. `tools`, `tool_choice` and
 * `parallel_tool_calls` become the `chat` op's tool fields (openai_tools.ts;
 * a `tool_choice` without tools is refused). What clients send for "no
 * choice" is read as they mean it: `top_p: 0` keeps only the likeliest token
 * (`top_k: 1`), a negative `seed` (llama.cpp's `-1`) is a random one. A
 * completions `prompt` may be a list of up to {@link MAX_PROMPTS}
 * (`Translated.prompts`). `frequency_penalty`, `presence_penalty`,
 * `logit_bias`, `user` and unknown fields are ignored. lode's own sampling
 * fields `top_k` and `repeat_penalty` are accepted as extensions.
 *
 * @example
 * ```ts
 * import { chatRequest } from "./openai_translate.ts";
 * const { request, stream } = chatRequest({ model: "m", messages: [{ role: "user", content: "Hi" }] }, "chatcmpl-1");
 * // request: { id: "chatcmpl-1", op: "chat", model: "m", messages: [{ role: "user", content: "Hi" }] }
 * ```
 * @module
 */
import { z } from "zod";
import { LodeError } from "../../errors.ts";
import { Request, type RequestOf } from "../wire/protocol.ts";
import { invalidFrame } from "../wire/decode_request.ts";
import { OpenAiToolCall, OpenAiTools, toolRequestFields, wireToolCalls } from "./openai_tools.ts";

const nullish = <T extends z.ZodTypeAny>(t: T) => t.nullable().optional();

const Text = z.object({ type: z.literal("text"), text: z.string() });
const ResponseFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.object({ name: z.string().optional(), schema: z.record(z.unknown()) }),
  }),
]);

const Sampling = {
  model: z.string().min(1),
  max_tokens: nullish(z.number().int().positive()),
  temperature: nullish(z.number().min(0).max(2)),
  top_p: nullish(z.number().min(0).max(1)),
  seed: nullish(z.number().int()),
  stop: nullish(z.union([z.string(), z.array(z.string())])),
  n: nullish(z.literal(1, { errorMap: () => ({ message: "only n = 1 is supported" }) })),
  stream: nullish(z.boolean()),
  stream_options: nullish(z.object({ include_usage: nullish(z.boolean()) })),
  response_format: nullish(ResponseFormat),
  top_k: nullish(z.number().int().nonnegative()),
  repeat_penalty: nullish(z.number().positive()),
};

const unsupported = (what: string) =>
  z.any().refine((v) => v === undefined || v === null || v === false, what);
const none = (what: string) =>
  z.any().refine((v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0), what);

/** Most prompts one `/v1/completions` request may hold (LangChain sends up to 20). */
export const MAX_PROMPTS = 20;

const CompletionBody = z.object({
  ...Sampling,
  prompt: z.union([
    z.string(),
    z.array(z.string()).min(1, "give at least one prompt").max(
      MAX_PROMPTS,
      `give at most ${MAX_PROMPTS} prompts`,
    ),
  ], {
    errorMap: (issue, ctx) => ({
      message: issue.code === "invalid_union"
        ? `a string or a list of up to ${MAX_PROMPTS} strings (token-id prompts are not supported)`
        : ctx.defaultError,
    }),
  }),
  best_of: nullish(z.literal(1, { errorMap: () => ({ message: "only best_of = 1 is supported" }) })),
  echo: unsupported("echo is not supported"),
  logprobs: unsupported("logprobs are not supported"),
  suffix: none("suffix is not supported"),
});

const ChatBody = z.object({
  ...Sampling,
  ...OpenAiTools.shape,
  max_completion_tokens: nullish(z.number().int().positive()),
  messages: z.array(z.object({
    role: z.enum(["system", "developer", "user", "assistant", "tool"]),
    content: z.union([z.string(), z.array(Text), z.null()], {
      errorMap: (issue, ctx) => ({
        message: issue.code === "invalid_union"
          ? "a string or a list of text parts (images and audio are not supported)"
          : ctx.defaultError,
      }),
    }).optional(),
    /** An assistant message's calls. */
    tool_calls: nullish(z.array(OpenAiToolCall)),
    /** The call a `tool` message answers. */
    tool_call_id: nullish(z.string().min(1)),
  })).min(1),
  logprobs: unsupported("logprobs are not supported"),
  top_logprobs: z.any().refine((v) => v === undefined || v === null || v === 0, "logprobs are not supported"),
  functions: none("functions are not supported: give tools"),
  function_call: unsupported("function_call is not supported: give tool_choice"),
});

const EmbeddingsBody = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1)], {
    errorMap: (issue, ctx) => ({
      message: issue.code === "invalid_union"
        ? "a string or a non-empty list of strings (token-id inputs are not supported)"
        : ctx.defaultError,
    }),
  }),
  encoding_format: nullish(z.enum(["float", "base64"])),
  dimensions: nullish(z.number().int().positive()),
});

/** A translated generation request and how to answer it. */
export interface Translated<R> {
  request: R;
  /** All the prompts of a `/v1/completions` request that gave a list (`request` holds the first). */
  prompts?: string[];
  /** Answer with server-sent events. */
  stream: boolean;
  /** Send a last chunk with `usage` (`stream_options.include_usage`). */
  includeUsage: boolean;
}

/** A translated embeddings request. */
export interface TranslatedEmbeddings {
  request: RequestOf<"embed">;
  /** Vectors as base64 of little-endian float32 (the `openai` client asks for this by default). */
  base64: boolean;
  /** The vector length the client asked for, when it did. */
  dimensions?: number;
}

/**
 * The `generate` request for a `/v1/completions` body; throws
 * `LodeError("BAD_REQUEST")` with `details.field`.
 *
 * @example
 * ```ts
 * completionRequest({ model: "m", prompt: "Once upon a time", max_tokens: 20 }, "cmpl-1").request;
 * // { id: "cmpl-1", op: "generate", model: "m", prompt: "Once upon a time", max_tokens: 20 }
 * ```
 */
export function completionRequest(body: unknown, id: string): Translated<RequestOf<"generate">> {
  const b = parse(CompletionBody, body, "completions");
  const prompts = typeof b.prompt === "string" ? [b.prompt] : b.prompt;
  const t = translated<"generate">(b, {
    id,
    op: "generate",
    model: b.model,
    prompt: prompts[0]!,
    ...sampling(b),
  });
  return prompts.length > 1 ? { ...t, prompts } : t;
}

/**
 * The `chat` request for a `/v1/chat/completions` body (`developer`
 * messages are system messages; text parts are joined; `tools`,
 * `tool_choice`, assistant `tool_calls` and `tool` messages as in
 * openai_tools.ts); throws
 * `LodeError("BAD_REQUEST")`.
 *
 * @example
 * ```ts
 * chatRequest({ model: "m", messages: [{ role: "user", content: "Hi" }], stream: true }, "c1").stream; // true
 * ```
 */
export function chatRequest(body: unknown, id: string): Translated<RequestOf<"chat">> {
  const b = parse(ChatBody, body, "chat.completions");
  const messages = b.messages.map((m, index) => {
    if (m.role === "tool" && m.tool_call_id == null) {
      throw badRequest(
        `messages.${index}.tool_call_id`,
        `message ${index} (tool) needs the tool_call_id it answers`,
      );
    }
    if (m.role !== "assistant" && (m.tool_calls?.length ?? 0) > 0) {
      throw badRequest(
        `messages.${index}.tool_calls`,
        `only assistant messages carry tool_calls (message ${index})`,
      );
    }
    return {
      role: m.role === "developer" ? "system" as const : m.role,
      content: typeof m.content === "string" ? m.content : (m.content ?? []).map((p) => p.text).join(""),
      ...(m.role === "assistant" && m.tool_calls != null ? { tool_calls: wireToolCalls(m.tool_calls) } : {}),
      ...(m.role === "tool" ? { tool_call_id: m.tool_call_id } : {}),
    };
  });
  const fields = { ...sampling(b), ...tools(b) };
  if (fields.json_schema !== undefined && (b.tools?.length ?? 0) > 0 && b.tool_choice !== "none") {
    throw badRequest(
      "response_format",
      "response_format cannot be combined with tools (unless tool_choice is none)",
    );
  }
  if (b.max_completion_tokens != null) fields.max_tokens = b.max_completion_tokens;
  return translated(b, { id, op: "chat", model: b.model, messages, ...fields });
}

/**
 * The `embed` request for a `/v1/embeddings` body; throws `LodeError("BAD_REQUEST")`.
 *
 * @example
 * ```ts
 * embeddingsRequest({ model: "m", input: ["a", "b"] }, "e1").request.input; // ["a", "b"]
 * ```
 */
export function embeddingsRequest(body: unknown, id: string): TranslatedEmbeddings {
  const b = parse(EmbeddingsBody, body, "embeddings");
  const request = checked({ id, op: "embed", model: b.model, input: b.input }) as RequestOf<"embed">;
  return {
    request,
    base64: b.encoding_format === "base64",
    ...(b.dimensions == null ? {} : { dimensions: b.dimensions }),
  };
}

type SamplingBody = z.infer<z.ZodObject<typeof Sampling>>;

/** The `chat` op's tool fields; `tool_choice` without tools, or naming none of them, is refused as OpenAI does. */
function tools(b: OpenAiTools): Record<string, unknown> {
  const fields = toolRequestFields(b);
  const names = new Set((fields.tools ?? []).map((t) => t.name));
  const choice = fields.tool_choice;
  if (choice !== undefined && names.size === 0) {
    throw badRequest("tool_choice", "tool_choice is only allowed when tools are given");
  }
  if (typeof choice === "object" && !names.has(choice.name)) {
    throw badRequest("tool_choice", `tool_choice names ${choice.name}, which is not one of the tools`);
  }
  return fields;
}

function sampling(b: SamplingBody): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ["max_tokens", "temperature", "top_p", "seed", "top_k", "repeat_penalty"] as const) {
    if (b[key] != null) out[key] = b[key];
  }
  // top_p 0 keeps only the likeliest token (greedy); a negative seed (llama.cpp's -1) asks for a random one.
  if (b.top_p === 0) {
    delete out.top_p;
    out.top_k ??= 1;
  }
  if (b.seed != null && b.seed < 0) delete out.seed;
  if (b.stop != null) {
    const stops = (typeof b.stop === "string" ? [b.stop] : b.stop).filter((s) => s !== "");
    if (stops.length > 0) out.stop = stops;
  }
  const format = b.response_format;
  if (format?.type === "json_object") out.json_schema = { type: "object", additionalProperties: true };
  if (format?.type === "json_schema") out.json_schema = format.json_schema.schema;
  return out;
}

function translated<O extends "generate" | "chat">(
  b: SamplingBody,
  fields: Record<string, unknown>,
): Translated<RequestOf<O>> {
  return {
    request: checked(fields) as RequestOf<O>,
    stream: b.stream === true,
    includeUsage: b.stream === true && b.stream_options?.include_usage === true,
  };
}

/** OpenAI names of protocol fields, for error messages. */
const OPENAI_FIELD: Record<string, string> = { json_schema: "response_format.json_schema.schema" };

function checked(fields: Record<string, unknown>): Request {
  const parsed = Request.safeParse(fields);
  if (parsed.success) return parsed.data;
  const e = invalidFrame(parsed.error, fields, `${fields.op} request`, Request);
  const wire = String(e.details.field);
  const field = OPENAI_FIELD[wire] ??
    wire.match(/^tools\.\d+\./)?.[0].concat("function.", wire.split(".").slice(2).join("."));
  if (field === undefined) throw e;
  throw new LodeError(e.code, e.message, { details: { ...e.details, field } });
}

function parse<T extends z.ZodTypeAny>(schema: T, body: unknown, endpoint: string): z.infer<T> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest("(body)", `${endpoint}: the body must be a JSON object`);
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw invalidFrame(parsed.error, body, `${endpoint} request`, schema);
}

/**
 * A `BAD_REQUEST` naming `field`.
 *
 * @example
 * ```ts
 * throw badRequest("messages", "messages must not be empty");
 * ```
 */
export function badRequest(field: string, message: string): LodeError {
  return new LodeError("BAD_REQUEST", message, { details: { field } });
}
