/**
 * OpenAI function tools (docs/daemon.md, "Tools"), both ways: a request's `tools`, `tool_choice` and
 * `parallel_tool_calls`, and the conversation's assistant `tool_calls` and `role: "tool"` messages, as the
 * `chat` op's fields (docs/protocol.md); a generation's tool calls as OpenAI's `message.tool_calls`, and
 * the pieces of those it generates as streamed `delta.tool_calls`. The chat completions front (openai_translate.ts, openai_responses.ts) uses
 * these; so can any other OpenAI-shaped front.
 *
 * @example
 * ```ts
 * import { OpenAiTools, toolRequestFields } from "./openai_tools.ts";
 * const fields = toolRequestFields(OpenAiTools.parse({
 *   tools: [{ type: "function", function: { name: "get_time", parameters: { type: "object", properties: {} } } }],
 *   tool_choice: "required",
 * }));
 * // { tools: [{ name: "get_time", parameters: { type: "object", properties: {} } }], tool_choice: "required" }
 * ```
 * @module
 */
import { z } from "zod";
import type { ToolCallDelta } from "../../inference/backend.ts";
import type { ToolCall, ToolFields } from "../wire/protocol.ts";

const nullish = <T extends z.ZodTypeAny>(t: T) => t.nullable().optional();

/** One OpenAI tool: `{"type":"function","function":{name, description?, parameters?, strict?}}`. */
export const OpenAiTool = z.object({
  type: z.literal("function", {
    errorMap: () => ({ message: 'only tools of type "function" are supported' }),
  }),
  function: z.object({
    name: z.string().min(1),
    description: nullish(z.string()),
    parameters: nullish(z.record(z.unknown())),
    /** Arguments always follow `parameters` here (a grammar enforces them), strict or not. */
    strict: nullish(z.boolean()),
  }),
});
export type OpenAiTool = z.infer<typeof OpenAiTool>;

/** OpenAI's `tool_choice`: `auto`, `none`, `required`, or `{"type":"function","function":{"name":…}}`. */
export const OpenAiToolChoice = z.union([
  z.enum(["auto", "none", "required"]),
  z.object({ type: z.literal("function"), function: z.object({ name: z.string().min(1) }) }),
], {
  errorMap: (issue, ctx) => ({
    message: issue.code === "invalid_union"
      ? '"auto", "none", "required" or {"type":"function","function":{"name":…}}'
      : ctx.defaultError,
  }),
});

/** The tool fields of an OpenAI request body. */
export const OpenAiTools = z.object({
  tools: nullish(z.array(OpenAiTool)),
  tool_choice: nullish(OpenAiToolChoice),
  parallel_tool_calls: nullish(z.boolean()),
});
export type OpenAiTools = z.infer<typeof OpenAiTools>;

/** One call of an assistant message given back: `{id, type: "function", function: {name, arguments}}`. */
export const OpenAiToolCall = z.object({
  id: z.string().min(1),
  type: z.literal("function").optional(),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});
export type OpenAiToolCall = z.infer<typeof OpenAiToolCall>;

/**
 * The `chat` op's tool fields for an OpenAI body's (`tool_choice` naming a function becomes `{name}`).
 *
 * @example
 * ```ts
 * import { toolRequestFields } from "./openai_tools.ts";
 * toolRequestFields({ tool_choice: { type: "function", function: { name: "f" } } }); // { tool_choice: { name: "f" } }
 * ```
 */
export function toolRequestFields(body: OpenAiTools): ToolFields {
  const out: ToolFields = {};
  if (body.tools != null) {
    out.tools = body.tools.map(({ function: f }) => ({
      name: f.name,
      ...(f.description == null ? {} : { description: f.description }),
      ...(f.parameters == null ? {} : { parameters: f.parameters }),
    }));
  }
  const choice = body.tool_choice;
  if (choice != null) out.tool_choice = typeof choice === "string" ? choice : { name: choice.function.name };
  if (body.parallel_tool_calls != null) out.parallel_tool_calls = body.parallel_tool_calls;
  return out;
}

/**
 * The `chat` op's `tool_calls` of an assistant message for OpenAI's.
 *
 * @example
 * ```ts
 * import { wireToolCalls } from "./openai_tools.ts";
 * wireToolCalls([{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }]);
 * // [{ id: "call_1", name: "f", arguments: "{}" }]
 * ```
 */
export function wireToolCalls(calls: readonly OpenAiToolCall[]): ToolCall[] {
  return calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
}

/**
 * A generation's tool calls as an answer's `message.tool_calls`.
 *
 * @example
 * ```ts
 * import { openAiToolCalls } from "./openai_tools.ts";
 * openAiToolCalls([{ id: "call_1", name: "f", arguments: "{}" }]);
 * // [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }]
 * ```
 */
export function openAiToolCalls(calls: readonly ToolCall[]): Record<string, unknown>[] {
  return calls.map((c) => ({
    id: c.id,
    type: "function",
    function: { name: c.name, arguments: c.arguments },
  }));
}

/**
 * A piece of a tool call as an entry of a streamed chunk's `delta.tool_calls`: `index`, and on a call's first
 * piece `id`, `type` and `function.name`; `function.arguments` continues the call's JSON text (clients join a
 * call's pieces by `index`).
 *
 * @example
 * ```ts
 * import { openAiToolCallDelta } from "./openai_tools.ts";
 * openAiToolCallDelta({ index: 0, id: "call_1", name: "f", arguments: "{" });
 * // { index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "{" } }
 * ```
 */
export function openAiToolCallDelta(delta: ToolCallDelta): Record<string, unknown> {
  return {
    index: delta.index,
    ...(delta.id === undefined ? {} : { id: delta.id, type: "function" }),
    function: { ...(delta.name === undefined ? {} : { name: delta.name }), arguments: delta.arguments },
  };
}

/**
 * Whole tool calls as `delta.tool_calls` entries, one per call (see {@link openAiToolCallDelta}).
 *
 * @example
 * ```ts
 * import { toolCallDeltas } from "./openai_tools.ts";
 * toolCallDeltas([{ id: "call_1", name: "f", arguments: "{}" }]);
 * // [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }]
 * ```
 */
export function toolCallDeltas(calls: readonly ToolCall[]): Record<string, unknown>[] {
  return calls.map((c, index) =>
    openAiToolCallDelta({ index, id: c.id, name: c.name, arguments: c.arguments })
  );
}
