/**
 * A `POST /v1/responses` body (OpenAI's Responses API) as the chat request
 * the front already runs: `input` (a string, or message items whose content
 * is a string or `input_text`/`output_text` parts) and `instructions` become
 * chat messages, `max_output_tokens`, `temperature`, `top_p` and
 * `text.format` become the chat body's `max_tokens`, `temperature`, `top_p`
 * and `response_format` — so both endpoints share one validation and one
 * JSON-schema path ({@link chatRequest}). Errors name the Responses field
 * (`max_output_tokens`, `text.format.schema`, `input.0.content`).
 *
 * Function `tools`, `tool_choice`, `parallel_tool_calls` and `function_call` /
 * `function_call_output` items become the chat body's tools, tool calls and
 * tool messages (responses_tools.ts), which the chat front checks. What lode
 * cannot honour is a 400 naming the field, not silently dropped:
 * `previous_response_id` and `conversation` (nothing is stored), `background`,
 * `top_logprobs`, images, files, tools other than functions. `store`,
 * `include`, `metadata`, `reasoning`, `truncation`, `user` and unknown fields
 * are ignored; the answer says `store: false`.
 *
 * @example
 * ```ts
 * import { responsesRequest } from "./responses_request.ts";
 * const r = responsesRequest({ model: "m", input: "Hi", instructions: "Be brief." }, "resp_1");
 * // r.chat.request.messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }]
 * ```
 * @module
 */
import { z } from "zod";
import { LodeError } from "../../errors.ts";
import type { RequestOf } from "../wire/protocol.ts";
import { invalidFrame } from "../wire/decode_request.ts";
import { badRequest, chatRequest, type Translated } from "./openai_translate.ts";
import {
  type ChatMessage,
  chatToolChoice,
  chatTools,
  functionItemMessage,
  isFunctionItem,
} from "./responses_tools.ts";

const nullish = <T extends z.ZodTypeAny>(t: T) => t.nullable().optional();

const TextPart = z.object({
  type: z.enum(["input_text", "output_text", "text"], {
    errorMap: () => ({ message: "a text part (input_text); images, files and audio are not supported" }),
  }),
  text: z.string(),
});
const Message = z.object({
  type: z.literal("message").optional(),
  role: z.enum(["user", "system", "developer", "assistant"]),
  content: z.union([z.string(), z.array(TextPart)], {
    errorMap: (issue, ctx) => ({
      message: issue.code === "invalid_union"
        ? "a string or a list of input_text parts (images, files and audio are not supported)"
        : ctx.defaultError,
    }),
  }),
});

const Format = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    name: z.string().optional(),
    description: z.string().optional(),
    schema: z.record(z.unknown()),
    strict: nullish(z.boolean()),
  }),
]);

const refused = (what: string) =>
  z.any().refine((v) => v === undefined || v === null || v === false || v === "", what);
/** The fields of a Responses body lode reads or refuses. */
export const ResponsesBody = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.unknown()).min(1)], {
    errorMap: (issue, ctx) => ({
      message: issue.code === "invalid_union"
        ? "a string or a non-empty list of input items"
        : ctx.defaultError,
    }),
  }),
  instructions: nullish(z.string()),
  max_output_tokens: nullish(z.number().int().positive()),
  temperature: nullish(z.number()),
  top_p: nullish(z.number()),
  top_k: nullish(z.number()),
  seed: nullish(z.number()),
  stream: nullish(z.boolean()),
  text: nullish(z.object({ format: nullish(Format) })),
  metadata: nullish(z.record(z.string())),
  previous_response_id: refused(
    "previous responses are not stored (send the whole conversation in input)",
  ),
  conversation: refused("conversations are not stored (send the whole conversation in input)"),
  background: refused("background responses are not supported"),
  top_logprobs: z.any().refine(
    (v) => v === undefined || v === null || v === 0,
    "log probabilities are not supported",
  ),
  tools: nullish(z.array(z.unknown())),
  tool_choice: z.unknown().optional(),
  parallel_tool_calls: nullish(z.boolean()),
});

/** A Responses body, checked. */
export type ResponsesFields = z.infer<typeof ResponsesBody>;

/** A translated Responses request: the chat request to run, and the body's fields the answer echoes. */
export interface TranslatedResponses {
  chat: Translated<RequestOf<"chat">>;
  body: ResponsesFields;
}

/** Responses names of the chat body's fields, for error messages. */
const RESPONSES_FIELD: [RegExp, string][] = [
  [/^max_tokens$/, "max_output_tokens"],
  [/^response_format\.json_schema\.schema/, "text.format.schema"],
  [/^response_format/, "text.format"],
  [/^tools\.(\d+)\.function/, "tools.$1"],
];

/**
 * The chat request for a `/v1/responses` body; throws `LodeError("BAD_REQUEST")` naming the Responses
 * field in `details.field`.
 *
 * @example
 * ```ts
 * responsesRequest({ model: "m", input: [{ role: "user", content: [{ type: "input_text", text: "Hi" }] }] }, "r1")
 *   .chat.request.messages; // [{ role: "user", content: "Hi" }]
 * ```
 */
export function responsesRequest(body: unknown, id: string): TranslatedResponses {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest("(body)", "responses: the body must be a JSON object");
  }
  const parsed = ResponsesBody.safeParse(body);
  if (!parsed.success) throw invalidFrame(parsed.error, body, "responses request", ResponsesBody);
  const b = parsed.data;
  const messages: ChatMessage[] = [];
  if (b.instructions != null && b.instructions !== "") {
    messages.push({ role: "system", content: b.instructions });
  }
  if (typeof b.input === "string") messages.push({ role: "user", content: b.input });
  else {
    b.input.forEach((item, i) => {
      const message = isFunctionItem(item)
        ? functionItemMessage(item, i, messages.at(-1))
        : inputMessage(item, i);
      if (message !== null) messages.push(message);
    });
  }
  const chatBody: Record<string, unknown> = { model: b.model, messages };
  const tools = b.tools ?? [];
  if (tools.length > 0) chatBody.tools = chatTools(tools);
  // "auto" and "none" without tools are what the Responses API answers by default: no choice to make.
  const choice = b.tool_choice;
  if (choice != null && !(tools.length === 0 && (choice === "auto" || choice === "none"))) {
    chatBody.tool_choice = chatToolChoice(choice);
  }
  if (b.parallel_tool_calls != null && tools.length > 0) chatBody.parallel_tool_calls = b.parallel_tool_calls;
  for (const key of ["temperature", "top_p", "top_k", "seed"] as const) {
    if (b[key] != null) chatBody[key] = b[key];
  }
  if (b.max_output_tokens != null) chatBody.max_tokens = b.max_output_tokens;
  const format = b.text?.format;
  if (format?.type === "json_object") chatBody.response_format = { type: "json_object" };
  if (format?.type === "json_schema") {
    chatBody.response_format = {
      type: "json_schema",
      json_schema: { name: format.name, schema: format.schema, strict: format.strict },
    };
  }
  try {
    const chat = chatRequest(chatBody, id);
    return { chat: { ...chat, stream: b.stream === true, includeUsage: false }, body: b };
  } catch (e) {
    throw renamed(e);
  }
}

function inputMessage(item: unknown, i: number): { role: string; content: string } {
  const type = typeof item === "object" && item !== null ? (item as { type?: unknown }).type : undefined;
  if (type !== undefined && type !== "message") {
    const what = type === "item_reference"
      ? "references to stored items are not supported (nothing is stored): send the item itself"
      : `input items of type ${JSON.stringify(type)} are not supported (send messages and function calls)`;
    throw badRequest(`input.${i}.type`, `responses request is invalid at input.${i}.type: ${what}`);
  }
  const parsed = Message.safeParse(item);
  if (!parsed.success) {
    const e = invalidFrame(parsed.error, item, `responses request input.${i}`, Message);
    throw new LodeError(e.code, e.message, {
      details: { ...e.details, field: `input.${i}.${e.details.field}` },
    });
  }
  const m = parsed.data;
  const content = typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("");
  return { role: m.role, content };
}

function renamed(e: unknown): unknown {
  if (!(e instanceof LodeError) || typeof e.details.field !== "string") return e;
  const field = e.details.field;
  for (const [pattern, name] of RESPONSES_FIELD) {
    if (pattern.test(field)) {
      const message = e.message.replace(/^chat\.completions request/, "responses request")
        .replaceAll(field, field.replace(pattern, name));
      return new LodeError(e.code, message, {
        details: { ...e.details, field: field.replace(pattern, name) },
        ...(e.hint === undefined ? {} : { hint: e.hint }),
      });
    }
  }
  if (/^messages/.test(field)) {
    return new LodeError(e.code, e.message.replace(/^chat\.completions request/, "responses request"), {
      details: { ...e.details, field: "input" },
    });
  }
  return new LodeError(e.code, e.message.replace(/^chat\.completions request/, "responses request"), {
    details: e.details,
  });
}
