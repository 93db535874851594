/**
 * The tool (function calling) types of the inference backend contract (backend.ts, which re-exports them):
 * a {@link ToolDefinition} a chat may call, the {@link ToolChoice}, a {@link ToolCall} the model made or a
 * conversation gives back, and a {@link ToolCallDelta} of a call being generated. Types only.
 *
 * @example
 * ```ts
 * import type { ToolCall } from "./backend_tools.ts";
 * const call: ToolCall = { id: "call_1", name: "get_time", arguments: "{}" };
 * ```
 * @module
 */
/**
 * A tool the model may call (`GenerateOptions.tools`): a name (letters, digits, `_`, `-`), what it
 * does, and the JSON Schema of its arguments (an object schema; the subset `GenerateOptions.jsonSchema`
 * accepts). The model is told about it through its chat template; its arguments are grammar-constrained.
 *
 * @example
 * ```ts
 * import type { ToolDefinition } from "./backend_tools.ts";
 * const weather: ToolDefinition = {
 *   name: "get_weather",
 *   description: "The weather in a city",
 *   parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
 * };
 * ```
 */
export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object; absent: the tool takes no arguments. */
  parameters?: Record<string, unknown>;
}

/**
 * Whether the model calls a tool (`GenerateOptions.toolChoice`): `"auto"` (it decides), `"none"` (it
 * answers with text; the tools are not shown to it), `"required"` (it must call one: the answer is forced
 * to start with a call) or `{ name }` (it must call that one).
 *
 * @example
 * ```ts
 * import type { ToolChoice } from "./backend_tools.ts";
 * const forced: ToolChoice = { name: "get_weather" };
 * ```
 */
export type ToolChoice = "auto" | "none" | "required" | { name: string };

/**
 * A call of a tool made by the model (`GenerateResult.toolCalls`), or one given back in a
 * conversation (`ChatMessage.toolCalls`): its id (`call_…`, chosen by lode; a tool message answers it
 * by that id), the tool's name and its arguments as JSON text.
 *
 * @example
 * ```ts
 * import type { ToolCall } from "./backend_tools.ts";
 * const call: ToolCall = { id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' };
 * ```
 */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/**
 * A piece of a tool call being generated (`GenerateOptions.onToolCallDelta`): `index` is the call's
 * position in the answer; the first delta of a call has `id` and `name`; `arguments` continues its JSON text.
 *
 * @example
 * ```ts
 * import type { ToolCallDelta } from "./backend_tools.ts";
 * const first: ToolCallDelta = { index: 0, id: "call_1", name: "get_weather", arguments: '{"ci' };
 * const next: ToolCallDelta = { index: 0, arguments: 'ty":"Paris"}' };
 * ```
 */
export interface ToolCallDelta {
  index: number;
  id?: string;
  name?: string;
  arguments: string;
}
