/**
 * The backend's options and usage (src/inference/backend.ts) as protocol fields (src/daemon/wire/protocol.ts),
 * and back: the daemon reads a request's sampling fields into {@link GenerateOptions} and writes a
 * generation's usage as `done.usage`; the client (client.ts) writes the fields and reads the usage. One place for both
 * directions, so a sampling option added to the backend is added to the wire once.
 *
 * @example
 * ```ts
 * import { samplingFields, samplingOptions } from "./protocol_backend.ts";
 * samplingOptions(samplingFields({ maxTokens: 40, stop: ["\n"] })); // { maxTokens: 40, stop: ["\n"] }
 * ```
 * @module
 */
import type {
  ChatMessage,
  GenerateOptions,
  ToolCall,
  ToolCallDelta,
  Usage,
} from "../../inference/backend.ts";
import type {
  ChatMessage as WireMessage,
  DoneUsage,
  FrameOf,
  SamplingFields,
  ToolFields,
} from "./protocol.ts";

/**
 * The backend's sampling options from a `generate` or `chat` request.
 *
 * @example
 * ```ts
 * samplingOptions({ max_tokens: 40, temperature: 0, stop: "\n" }); // { maxTokens: 40, temperature: 0, stop: ["\n"] }
 * ```
 */
export function samplingOptions(request: SamplingFields): Omit<GenerateOptions, "signal"> {
  const out: Omit<GenerateOptions, "signal"> = {};
  if (request.max_tokens !== undefined) out.maxTokens = request.max_tokens;
  if (request.temperature !== undefined) out.temperature = request.temperature;
  if (request.seed !== undefined) out.seed = request.seed;
  if (request.top_k !== undefined) out.topK = request.top_k;
  if (request.top_p !== undefined) out.topP = request.top_p;
  if (request.repeat_penalty !== undefined) out.repeatPenalty = request.repeat_penalty;
  if (request.stop !== undefined) out.stop = typeof request.stop === "string" ? [request.stop] : request.stop;
  if (request.json_schema !== undefined) out.jsonSchema = request.json_schema;
  return out;
}

/**
 * The sampling fields of a `generate` or `chat` request from the backend's options (the inverse of
 * {@link samplingOptions}; `signal` is not sent: aborting sends `cancel`).
 *
 * @example
 * ```ts
 * samplingFields({ maxTokens: 40, topK: 40 }); // { max_tokens: 40, top_k: 40 }
 * ```
 */
export function samplingFields(options: GenerateOptions): SamplingFields {
  const out: SamplingFields = {};
  if (options.maxTokens !== undefined) out.max_tokens = options.maxTokens;
  if (options.temperature !== undefined) out.temperature = options.temperature;
  if (options.seed !== undefined) out.seed = options.seed;
  if (options.topK !== undefined) out.top_k = options.topK;
  if (options.topP !== undefined) out.top_p = options.topP;
  if (options.repeatPenalty !== undefined) out.repeat_penalty = options.repeatPenalty;
  if (options.stop !== undefined) out.stop = options.stop;
  if (options.jsonSchema !== undefined) out.json_schema = options.jsonSchema;
  return out;
}

/**
 * The wire `usage` of a generation from the backend's {@link Usage}
 * and the time it waited in the queue.
 */
export function usageFrom(usage: Usage, options: { queueMs?: number } = {}): DoneUsage {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.generatedTokens,
    total_tokens: usage.promptTokens + usage.generatedTokens,
    ...(options.queueMs === undefined ? {} : { queue_ms: options.queueMs }),
    load_ms: usage.loadMs,
    time_to_first_token_ms: usage.timeToFirstTokenMs,
    total_ms: usage.totalMs,
    tokens_per_second: usage.tokensPerSecond,
  };
}

/**
 * The backend's {@link Usage} from a `done` frame's `usage` (the inverse of {@link usageFrom}); a field
 * the daemon left out is 0 (`totalMs`: `elapsedMs`).
 *
 * @example
 * ```ts
 * usageOf({ prompt_tokens: 5, completion_tokens: 40 }, 52).generatedTokens; // 40
 * ```
 */
export function usageOf(usage: DoneUsage | undefined, elapsedMs: number): Usage {
  const u = usage ?? {};
  return {
    promptTokens: u.prompt_tokens ?? 0,
    generatedTokens: u.completion_tokens ?? 0,
    loadMs: u.load_ms ?? 0,
    timeToFirstTokenMs: u.time_to_first_token_ms ?? null,
    totalMs: u.total_ms ?? elapsedMs,
    tokensPerSecond: u.tokens_per_second ?? 0,
  };
}

/**
 * The backend's tool options from a `chat` request's `tools`, `tool_choice` and `parallel_tool_calls`.
 *
 * @example
 * ```ts
 * toolOptions({ tools: [{ name: "f" }], tool_choice: "required" }); // { tools: [{ name: "f" }], toolChoice: "required" }
 * ```
 */
export function toolOptions(
  request: ToolFields,
): Pick<GenerateOptions, "tools" | "toolChoice" | "parallelToolCalls"> {
  const out: Pick<GenerateOptions, "tools" | "toolChoice" | "parallelToolCalls"> = {};
  if (request.tools !== undefined) out.tools = request.tools;
  if (request.tool_choice !== undefined) out.toolChoice = request.tool_choice;
  if (request.parallel_tool_calls !== undefined) out.parallelToolCalls = request.parallel_tool_calls;
  return out;
}

/**
 * The tool fields of a `chat` request from the backend's options (the inverse of {@link toolOptions}).
 *
 * @example
 * ```ts
 * toolFields({ toolChoice: { name: "f" } }); // { tool_choice: { name: "f" } }
 * ```
 */
export function toolFields(options: GenerateOptions): ToolFields {
  const out: ToolFields = {};
  if (options.tools !== undefined) out.tools = options.tools;
  if (options.toolChoice !== undefined) out.tool_choice = options.toolChoice;
  if (options.parallelToolCalls !== undefined) out.parallel_tool_calls = options.parallelToolCalls;
  return out;
}

/**
 * The backend's chat messages from a request's (`tool_calls` → `toolCalls`, `tool_call_id` → `toolCallId`).
 *
 * @example
 * ```ts
 * chatMessages([{ role: "tool", content: "21", tool_call_id: "call_1" }]); // [{ role: "tool", content: "21", toolCallId: "call_1" }]
 * ```
 */
export function chatMessages(messages: readonly WireMessage[]): ChatMessage[] {
  return messages.map(({ role, content, tool_calls, tool_call_id }) => ({
    role,
    content,
    ...(tool_calls === undefined ? {} : { toolCalls: tool_calls }),
    ...(tool_call_id === undefined ? {} : { toolCallId: tool_call_id }),
  }));
}

/**
 * A request's messages from the backend's (the inverse of {@link chatMessages}).
 *
 * @example
 * ```ts
 * wireMessages([{ role: "user", content: "Hi" }]); // [{ role: "user", content: "Hi" }]
 * ```
 */
export function wireMessages(messages: readonly ChatMessage[]): WireMessage[] {
  return messages.map(({ role, content, toolCalls, toolCallId }) => ({
    role,
    content,
    ...(toolCalls === undefined
      ? {}
      : { tool_calls: toolCalls.map(({ id, name, arguments: a }) => ({ id, name, arguments: a })) }),
    ...(toolCallId === undefined ? {} : { tool_call_id: toolCallId }),
  }));
}

/** A `done` frame's `tool_calls` for a result's calls (absent when it made none). */
export function toolCallsField(toolCalls: readonly ToolCall[] | undefined): { tool_calls?: ToolCall[] } {
  return toolCalls === undefined || toolCalls.length === 0 ? {} : { tool_calls: [...toolCalls] };
}

/**
 * The `tool_call` frame of a piece of a tool call.
 *
 * @example
 * ```ts
 * toolCallFrame("c1", { index: 0, id: "call_1", name: "f", arguments: "{" });
 * // { id: "c1", type: "tool_call", index: 0, call_id: "call_1", name: "f", arguments: "{" }
 * ```
 */
export function toolCallFrame(id: string, delta: ToolCallDelta): FrameOf<"tool_call"> {
  return {
    id,
    type: "tool_call",
    index: delta.index,
    ...(delta.id === undefined ? {} : { call_id: delta.id }),
    ...(delta.name === undefined ? {} : { name: delta.name }),
    arguments: delta.arguments,
  };
}

/**
 * The piece of a tool call a `tool_call` frame carries (the inverse of {@link toolCallFrame}).
 *
 * @example
 * ```ts
 * toolCallDelta({ id: "c1", type: "tool_call", index: 0, arguments: "}" }); // { index: 0, arguments: "}" }
 * ```
 */
export function toolCallDelta(frame: FrameOf<"tool_call">): ToolCallDelta {
  return {
    index: frame.index,
    ...(frame.call_id === undefined ? {} : { id: frame.call_id }),
    ...(frame.name === undefined ? {} : { name: frame.name }),
    arguments: frame.arguments,
  };
}
