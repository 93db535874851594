/**
 * Function tools of the Responses API in the chat API's terms, both ways:
 * `tools` (`{type:"function", name, description, parameters, strict}`) and
 * `tool_choice` (`"auto"`, `"none"`, `"required"`, `{type:"function", name}`)
 * become the chat body's `tools`/`tool_choice`; `function_call` input items
 * become an assistant message's `tool_calls` (consecutive calls in one
 * message) and `function_call_output` items `tool` messages; a generation's
 * tool calls ({@link FunctionCall}) become `function_call` output items. The
 * chat front checks and runs them (openai_translate.ts); what the Responses
 * API has beyond functions (web search, file search, MCP…) is refused.
 *
 * @example
 * ```ts
 * import { chatTools } from "./responses_tools.ts";
 * chatTools([{ type: "function", name: "get_weather", parameters: { type: "object" } }]);
 * // [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }]
 * ```
 * @module
 */
import { badRequest } from "./openai_translate.ts";

/** A tool call the model made, as the chat front reports it: its id, the function's name, its JSON arguments. */
export interface FunctionCall {
  id: string;
  name: string;
  arguments: string;
}

/** A chat message as `/v1/chat/completions` takes it (the subset this module writes). */
export type ChatMessage =
  | { role: string; content: string }
  | {
    role: "assistant";
    content: null;
    tool_calls: { id: string; type: "function"; function: { name: string; arguments: string } }[];
  }
  | { role: "tool"; tool_call_id: string; content: string };

/**
 * The chat body's `tools` for the Responses `tools`; `BAD_REQUEST` (`tools.N.type`) for a tool that is not a
 * function.
 *
 * @example
 * ```ts
 * chatTools([{ type: "web_search" }]); // throws BAD_REQUEST at tools.0.type
 * ```
 */
export function chatTools(tools: unknown[]): Record<string, unknown>[] {
  return tools.map((tool, i) => {
    const t = (tool ?? {}) as Record<string, unknown>;
    if (t.type !== "function") {
      throw badRequest(
        `tools.${i}.type`,
        `responses request is invalid at tools.${i}.type: only function tools are supported, not ${
          JSON.stringify(t.type)
        }`,
      );
    }
    const fn: Record<string, unknown> = { name: t.name };
    for (const key of ["description", "parameters", "strict"] as const) {
      if (t[key] != null) fn[key] = t[key];
    }
    return { type: "function", function: fn };
  });
}

/**
 * The chat body's `tool_choice` for the Responses one (`{type:"function", name}` → `{type:"function",
 * function:{name}}`; strings as they are).
 *
 * @example
 * ```ts
 * chatToolChoice({ type: "function", name: "f" }); // { type: "function", function: { name: "f" } }
 * ```
 */
export function chatToolChoice(choice: unknown): unknown {
  if (typeof choice === "object" && choice !== null && (choice as { type?: unknown }).type === "function") {
    return { type: "function", function: { name: (choice as { name?: unknown }).name } };
  }
  return choice;
}

/**
 * The chat message for a `function_call` or `function_call_output` item at `input.i`, or null for another
 * item. A call joins `previous` when that is an assistant message of calls.
 *
 * @example
 * ```ts
 * functionItemMessage({ type: "function_call_output", call_id: "c1", output: "20°C" }, 3, undefined);
 * // { role: "tool", tool_call_id: "c1", content: "20°C" }
 * ```
 */
export function functionItemMessage(
  item: unknown,
  i: number,
  previous: ChatMessage | undefined,
): ChatMessage | null {
  const it = (item ?? {}) as Record<string, unknown>;
  const text = (key: string) => {
    if (typeof it[key] !== "string") {
      throw badRequest(
        `input.${i}.${key}`,
        `responses request is invalid at input.${i}.${key}: expected a string`,
      );
    }
    return it[key] as string;
  };
  if (it.type === "function_call") {
    const call = {
      id: text("call_id"),
      type: "function" as const,
      function: { name: text("name"), arguments: text("arguments") },
    };
    if (previous !== undefined && "tool_calls" in previous) {
      previous.tool_calls.push(call);
      return null;
    }
    return { role: "assistant", content: null, tool_calls: [call] };
  }
  if (it.type === "function_call_output") {
    const output = it.output;
    const content = typeof output === "string" ? output : Array.isArray(output)
      ? output.map((part, p) => {
        const t = (part ?? {}) as Record<string, unknown>;
        if (t.type !== "input_text" || typeof t.text !== "string") {
          throw badRequest(
            `input.${i}.output.${p}`,
            `responses request is invalid at input.${i}.output.${p}: only input_text parts are supported`,
          );
        }
        return t.text;
      }).join("")
      : (() => {
        throw badRequest(
          `input.${i}.output`,
          `responses request is invalid at input.${i}.output: expected a string`,
        );
      })();
    return { role: "tool", tool_call_id: text("call_id"), content };
  }
  return null;
}

/** True for the input item types {@link functionItemMessage} reads. */
export function isFunctionItem(item: unknown): boolean {
  const type = typeof item === "object" && item !== null ? (item as { type?: unknown }).type : undefined;
  return type === "function_call" || type === "function_call_output";
}

/**
 * The `function_call` output item of a tool call (`id` `fc_…` from the call's id).
 *
 * @example
 * ```ts
 * functionCallItem({ id: "call_1", name: "f", arguments: "{}" }); // { type: "function_call", id: "fc_call_1", call_id: "call_1", … }
 * ```
 */
export function functionCallItem(call: FunctionCall, status = "completed"): Record<string, unknown> {
  return {
    type: "function_call",
    id: `fc_${call.id}`,
    call_id: call.id,
    name: call.name,
    arguments: call.arguments,
    status,
  };
}
