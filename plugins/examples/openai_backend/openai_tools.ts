/**
 * Tools through OpenAI's chat API for the `openai_backend` example (the protocol's `tools` feature): lode's
 * tool definitions as `tools` (`{type: "function", function}`), `tool_choice` and `parallel_tool_calls`;
 * assistant messages' calls as `tool_calls` and `tool` messages with their `tool_call_id`; the streamed
 * `delta.tool_calls` pieces as lode's `{toolCall}` progress, assembled into the result's `toolCalls`.
 *
 * @example
 * ```ts
 * import { toolFields } from "./openai_tools.ts";
 * toolFields({ tools: [{ name: "get_time" }], toolChoice: { name: "get_time" } }).tool_choice;
 * // { type: "function", function: { name: "get_time" } }
 * ```
 * @module
 */
import type {
  ChatMessageDescriptor,
  GenerateDescriptor,
  ToolCallDeltaDescriptor,
  ToolCallDescriptor,
} from "../../sdk/mod.ts";

/** The request fields of `o`'s tools (none when it gives none). */
export function toolFields(o: GenerateDescriptor): Record<string, unknown> {
  if ((o.tools?.length ?? 0) === 0) return {};
  const choice = o.toolChoice;
  return {
    tools: o.tools!.map((t) => ({
      type: "function",
      function: {
        name: t.name,
        ...(t.description === undefined ? {} : { description: t.description }),
        parameters: t.parameters ?? { type: "object", properties: {} },
      },
    })),
    ...(choice === undefined ? {} : {
      tool_choice: typeof choice === "object"
        ? { type: "function", function: { name: choice.name } }
        : choice,
    }),
    ...(o.parallelToolCalls === undefined ? {} : { parallel_tool_calls: o.parallelToolCalls }),
  };
}

/** `messages` in OpenAI's form: calls as `tool_calls`, a `tool` message with its `tool_call_id`. */
export function openAiMessages(messages: ChatMessageDescriptor[]): Record<string, unknown>[] {
  return messages.map((m) => {
    if (m.role === "tool") return { role: "tool", tool_call_id: m.toolCallId ?? "", content: m.content };
    if ((m.toolCalls?.length ?? 0) === 0) return { role: m.role, content: m.content };
    return {
      role: m.role,
      content: m.content === "" ? null : m.content,
      tool_calls: m.toolCalls!.map((c) => ({
        id: c.id,
        type: "function",
        function: { name: c.name, arguments: c.arguments },
      })),
    };
  });
}

/** The tool calls of a stream, assembled from its `delta.tool_calls` pieces. */
export class ToolCallStream {
  readonly #calls = new Map<number, ToolCallDescriptor>();

  /** Takes one chunk's `delta.tool_calls`; each piece is also given to `progress` as lode's delta. */
  push(pieces: unknown, progress: (delta: ToolCallDeltaDescriptor) => void): void {
    if (!Array.isArray(pieces)) return;
    for (const piece of pieces as Record<string, unknown>[]) {
      const index = typeof piece?.index === "number" ? piece.index : this.#calls.size;
      const fn = (piece?.function ?? {}) as { name?: unknown; arguments?: unknown };
      const id = typeof piece?.id === "string" ? piece.id : undefined;
      const name = typeof fn.name === "string" ? fn.name : undefined;
      const args = typeof fn.arguments === "string" ? fn.arguments : "";
      const call = this.#calls.get(index) ?? { id: id ?? `call_${index}`, name: name ?? "", arguments: "" };
      if (id !== undefined) call.id = id;
      if (name !== undefined && call.name === "") call.name = name;
      call.arguments += args;
      this.#calls.set(index, call);
      progress({
        index,
        ...(id === undefined ? {} : { id }),
        ...(name === undefined ? {} : { name }),
        arguments: args,
      });
    }
  }

  /** The calls in their order; empty when the stream made none. */
  get calls(): ToolCallDescriptor[] {
    return [...this.#calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
  }
}
