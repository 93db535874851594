/**
 * Tools (function calling) for the node-llama-cpp backend. node-llama-cpp implements function calling per
 * chat wrapper (`ChatWrapper.settings.functions`: the syntax of a call and of its result in the model's
 * template): `LlamaChat.generateResponse` with `functions` documents them to the model (in the system
 * message), detects a call as the model starts one, constrains its name and arguments with a grammar, and
 * stops with the calls (`functionCalls`). Here:
 *
 * - {@link checkTools} checks {@link GenerateOptions.tools} / `toolChoice` before anything runs and gives the
 *   `functions` node-llama-cpp reads (a named `toolChoice` leaves only that tool);
 * - {@link ToolForcingWrapper} forces a call (`toolChoice` `required` or named): the answer starts in
 *   node-llama-cpp's function-calling mode (`noPrefixTrigger` of type `functionCall`), so the grammar makes the
 *   first thing generated a call of one of the tools;
 * - {@link ToolCallStream} turns node-llama-cpp's calls, and the pieces of their arguments as they are
 *   generated, into {@link ToolCall}s and {@link ToolCallDelta}s with fresh ids.
 *
 * Wrappers without a native syntax (ChatML, Llama 2, …) use node-llama-cpp's generic one
 * (`||call: name({…})`); the plain layout of template-less models has none, so their sessions report
 * `capabilities.tools: false` ({@link wrapperSupportsTools}).
 *
 * @example
 * ```ts
 * import { checkTools } from "./llama_cpp_tools.ts";
 * const checked = checkTools({
 *   tools: [{ name: "get_time", description: "The time now" }],
 *   toolChoice: "required",
 * });
 * console.log(checked?.force); // true
 * ```
 * @module
 */
import type * as NodeLlamaCpp from "node-llama-cpp";
import { LodeError } from "../errors.ts";
import type { GenerateOptions, ToolCall, ToolCallDelta } from "./backend.ts";
import { plainJsonSchema } from "./json_schema.ts";
import { PLAIN_CHAT_WRAPPER_NAME } from "./llama_cpp_chat.ts";

/** A tool's name: what OpenAI accepts (letters, digits, `_`, `-`, at most 64). */
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Tools checked by {@link checkTools}: the `functions` of `LlamaChat.generateResponse`, whether a call is
 * forced, and the most calls one answer may make.
 *
 * @example
 * ```ts
 * import type { CheckedTools } from "./llama_cpp_tools.ts";
 * const names = (t: CheckedTools) => Object.keys(t.functions);
 * ```
 */
export interface CheckedTools {
  functions: NodeLlamaCpp.ChatModelFunctions;
  force: boolean;
  maxParallel: number | undefined;
}

/**
 * Checks the tool options of a chat, synchronously: `undefined` when the model is to answer with text only
 * (no tools, or `toolChoice: "none"`). Throws `USAGE` for a bad name, a duplicate, a `toolChoice` naming no
 * given tool or a JSON schema combined with tools; `SCHEMA_INVALID` for arguments a grammar cannot enforce.
 *
 * @example
 * ```ts
 * import { checkTools } from "./llama_cpp_tools.ts";
 * checkTools({ tools: [{ name: "f" }], toolChoice: "none" }); // undefined
 * ```
 */
export function checkTools(options: GenerateOptions): CheckedTools | undefined {
  const { tools, toolChoice = "auto", parallelToolCalls } = options;
  if (tools === undefined) {
    if (typeof toolChoice === "object" || toolChoice === "required") {
      throw usage("toolChoice", `toolChoice ${JSON.stringify(toolChoice)} needs tools`);
    }
    return undefined;
  }
  if (!Array.isArray(tools)) {
    throw usage("tools", "tools must be a list of {name, description?, parameters?}");
  }
  const functions: Record<string, { description?: string; params?: NodeLlamaCpp.GbnfJsonSchema }> = {};
  tools.forEach((tool, index) => {
    const name = tool?.name;
    if (typeof name !== "string" || !TOOL_NAME.test(name)) {
      throw usage(`tools.${index}.name`, `tool ${index}'s name must be 1 to 64 letters, digits, _ or -`);
    }
    if (Object.hasOwn(functions, name)) throw usage(`tools.${index}.name`, `two tools are named ${name}`);
    if (tool.description !== undefined && typeof tool.description !== "string") {
      throw usage(`tools.${index}.description`, `tool ${name}'s description must be a string`);
    }
    functions[name] = {
      ...(tool.description ? { description: tool.description } : {}),
      ...(isEmpty(tool.parameters) ? {} : { params: parameters(name, index, tool.parameters!) }),
    };
  });
  if (toolChoice === "none" || tools.length === 0) {
    if (typeof toolChoice === "object" || toolChoice === "required") {
      throw usage("toolChoice", `toolChoice ${JSON.stringify(toolChoice)} needs tools`);
    }
    return undefined;
  }
  if (options.jsonSchema !== undefined) {
    throw usage("jsonSchema", "a JSON schema cannot be combined with tools (unless toolChoice is none)");
  }
  let chosen = functions;
  if (typeof toolChoice === "object") {
    const name = toolChoice?.name;
    if (typeof name !== "string" || !Object.hasOwn(functions, name)) {
      throw usage("toolChoice", `toolChoice names ${JSON.stringify(name)}, which is not one of the tools`);
    }
    chosen = { [name]: functions[name]! };
  } else if (toolChoice !== "auto" && toolChoice !== "required") {
    throw usage("toolChoice", `toolChoice must be "auto", "none", "required" or {name}`);
  }
  if (parallelToolCalls !== undefined && typeof parallelToolCalls !== "boolean") {
    throw usage("parallelToolCalls", "parallelToolCalls must be a boolean");
  }
  return {
    functions: chosen,
    force: toolChoice !== "auto",
    maxParallel: parallelToolCalls === false ? 1 : undefined,
  };
}

/** No parameters: none given, or the empty schema `{}` (what clients send for a tool without arguments). */
function isEmpty(schema: Record<string, unknown> | undefined): boolean {
  return schema === undefined ||
    (typeof schema === "object" && schema !== null && !Array.isArray(schema) &&
      Object.keys(schema).length === 0);
}

/** A tool's arguments schema: an object schema grammars can enforce. */
function parameters(
  name: string,
  index: number,
  schema: Record<string, unknown>,
): NodeLlamaCpp.GbnfJsonSchema {
  const field = `tools.${index}.parameters`;
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    throw new LodeError("SCHEMA_INVALID", `tool ${name}'s parameters must be a JSON Schema object`, {
      details: { path: "/", reason: "not an object", tool: name, field },
    });
  }
  try {
    return plainJsonSchema(schema) as NodeLlamaCpp.GbnfJsonSchema;
  } catch (e) {
    if (e instanceof LodeError) {
      throw new LodeError(e.code, `tool ${name}'s parameters: ${e.message}`, {
        details: { ...e.details, tool: name, field },
        cause: e,
      });
    }
    throw e;
  }
}

/**
 * Whether chats through `wrapper` can call tools: every node-llama-cpp wrapper has a function-call syntax
 * (its own or the generic one); lode's plain layout for template-less models shows no tools to the model.
 *
 * @example
 * ```ts
 * import { wrapperSupportsTools } from "./llama_cpp_tools.ts";
 * import { chatWrapperFor } from "./llama_cpp_chat.ts";
 * const lib = await import("node-llama-cpp");
 * const model = await (await lib.getLlama({ gpu: false })).loadModel({ modelPath: "m.gguf" });
 * wrapperSupportsTools(chatWrapperFor(lib, model));
 * ```
 */
export function wrapperSupportsTools(wrapper: NodeLlamaCpp.ChatWrapper): boolean {
  return wrapper.wrapperName !== PLAIN_CHAT_WRAPPER_NAME && wrapper.settings.functions?.call?.prefix != null;
}

/**
 * A chat wrapper that renders as `base` does and, while {@link force} is set, makes the answer start with a
 * function call: the context state gets a `noPrefixTrigger` of type `functionCall`, so `LlamaChat` puts the
 * call prefix into the context and constrains what follows to a call of one of the given functions.
 *
 * @example
 * ```ts
 * import { ToolForcingWrapper } from "./llama_cpp_tools.ts";
 * const lib = await import("node-llama-cpp");
 * const forcing = new ToolForcingWrapper(lib, new lib.ChatMLChatWrapper());
 * forcing.force = true;
 * ```
 */
export class ToolForcingWrapper {
  /** Whether the next answers must start with a call. */
  force = false;
  /** The wrapper `LlamaChat` is given: `base` with its context state amended while {@link force} is set. */
  readonly wrapper: NodeLlamaCpp.ChatWrapper;

  constructor(lib: typeof NodeLlamaCpp, base: NodeLlamaCpp.ChatWrapper) {
    const wrapper: NodeLlamaCpp.ChatWrapper = Object.create(base);
    wrapper.generateContextState = (
      options: NodeLlamaCpp.ChatWrapperGenerateContextStateOptions,
    ): NodeLlamaCpp.ChatWrapperGeneratedContextState => {
      const state = base.generateContextState(options);
      const prefix = base.settings.functions?.call?.prefix;
      if (!this.force || options.availableFunctions === undefined || prefix == null) return state;
      return {
        contextText: state.contextText,
        stopGenerationTriggers: state.stopGenerationTriggers,
        noPrefixTrigger: { type: "functionCall", inject: lib.LlamaText(prefix) },
      };
    };
    this.wrapper = wrapper;
  }
}

/**
 * The tool calls of one answer as node-llama-cpp generates them: {@link chunk} takes its
 * `onFunctionCallParamsChunk` pieces and passes them on as {@link ToolCallDelta}s (a call's first one with a
 * fresh `call_…` id and its name); {@link finish} gives the completed calls as {@link ToolCall}s — the same
 * ids, the arguments as streamed (or `{}` for a tool without parameters) — and announces those no piece
 * announced (calls without arguments).
 *
 * @example
 * ```ts
 * import { ToolCallStream } from "./llama_cpp_tools.ts";
 * const stream = new ToolCallStream((d) => console.log(d));
 * stream.chunk({ callIndex: 0, functionName: "f", paramsChunk: '{"a":', done: false });
 * stream.chunk({ callIndex: 0, functionName: "f", paramsChunk: "1}", done: true });
 * stream.finish([{ functionName: "f", params: { a: 1 } }]); // [{ id: "call_…", name: "f", arguments: '{"a":1}' }]
 * ```
 */
export class ToolCallStream {
  readonly #onDelta: ((delta: ToolCallDelta) => void) | undefined;
  readonly #calls = new Map<number, { id: string; name: string; text: string; sent: number }>();

  constructor(onDelta?: (delta: ToolCallDelta) => void) {
    this.#onDelta = onDelta;
  }

  /** A piece of a call's arguments (whitespace at the end is held back until more text follows it). */
  chunk(piece: { callIndex: number; functionName: string; paramsChunk: string; done: boolean }): void {
    let call = this.#calls.get(piece.callIndex);
    const first = call === undefined;
    call ??= { id: newCallId(), name: piece.functionName, text: "", sent: 0 };
    this.#calls.set(piece.callIndex, call);
    call.text += piece.paramsChunk;
    const upTo = call.text.trimEnd().length;
    const text = call.text.slice(call.sent, Math.max(upTo, call.sent));
    call.sent = Math.max(upTo, call.sent);
    if (first) this.#emit({ index: piece.callIndex, id: call.id, name: call.name, arguments: text });
    else if (text !== "") this.#emit({ index: piece.callIndex, arguments: text });
  }

  /** The completed calls (node-llama-cpp's `functionCalls`, in order) as {@link ToolCall}s. */
  finish(calls: readonly { functionName: string; params?: unknown }[] | undefined): ToolCall[] {
    return (calls ?? []).map((call, index) => {
      const streamed = this.#calls.get(index);
      if (streamed !== undefined && streamed.name === call.functionName && parses(streamed.text)) {
        return { id: streamed.id, name: call.functionName, arguments: streamed.text.slice(0, streamed.sent) };
      }
      const done = {
        id: streamed?.id ?? newCallId(),
        name: call.functionName,
        arguments: JSON.stringify(call.params ?? {}),
      };
      if (streamed === undefined) this.#emit({ index, ...done });
      return done;
    });
  }

  #emit(delta: ToolCallDelta): void {
    try {
      this.#onDelta?.(delta);
    } catch { /* an observer's failure is not the generation's */ }
  }
}

function newCallId(): string {
  return `call_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function usage(field: string, message: string): LodeError {
  return new LodeError("USAGE", message, { details: { field } });
}
