/**
 * Chat rendering for the node-llama-cpp backend: which chat wrapper turns a
 * conversation into the model's prompt, and the exact tokens that produces.
 *
 * - A GGUF with a `tokenizer.chat_template` is rendered through that
 *   template: `resolveChatWrapper` picks node-llama-cpp's specialised wrapper
 *   when it renders the same as the Jinja template (ChatML, Llama 3, Qwen, …)
 *   and otherwise runs the Jinja template itself.
 * - A template given with the load (`LoadOptions.chatTemplate`: an OCI artifact's template layer)
 *   is used instead of the GGUF's own, resolved the same way, as if the GGUF carried it. One that
 *   does not render is `MODEL_LOAD_FAILED` naming it, at load.
 * - A GGUF without one (stories260K) gets lode's plain layout, one
 *   `role: content` line per message and an open `assistant:` turn, after a
 *   BOS token. (node-llama-cpp would guess a format from the architecture or
 *   file name — Llama 2's `[INST]` for any llama — which a base model never
 *   saw either; the plain layout is at least readable and predictable.)
 *
 * node-llama-cpp is passed in (`lib`), never imported here, so this module
 * stays free to import.
 *
 * @example
 * ```ts
 * import { chatWrapperFor, renderChatTokens } from "./llama_cpp_chat.ts";
 * const lib = await import("node-llama-cpp");
 * const llama = await lib.getLlama({ gpu: false });
 * const model = await llama.loadModel({ modelPath: "tests/fixtures/stories260K.gguf" });
 * const wrapper = chatWrapperFor(lib, model);
 * const tokens = renderChatTokens(wrapper, model, [{ role: "user", content: "Hi" }]);
 * console.log(model.detokenize(tokens, true)); // "<s> user: Hi\nassistant:"
 * ```
 * @module
 */
import type * as NodeLlamaCpp from "node-llama-cpp";
import { LodeError } from "../errors.ts";
import type { ChatMessage } from "./backend.ts";

/** `wrapperName` of the layout used for models without a chat template. */
export const PLAIN_CHAT_WRAPPER_NAME = "lode-plain";

const ROLES = new Set(["system", "user", "assistant", "tool"]);

/**
 * A chat template given with a load instead of the model's own: its Jinja text and what it is called in
 * errors (the stored file's name).
 *
 * @example
 * ```ts
 * import type { GivenTemplate } from "./llama_cpp_chat.ts";
 * const template: GivenTemplate = { text: "{{ messages[0].content }}", name: "template.jinja" };
 * ```
 */
export interface GivenTemplate {
  text: string;
  name?: string;
}

/**
 * The chat wrapper for `model`: `template` when given, else its own template when it has one, else the
 * plain `role: content` layout ({@link createPlainChatWrapper}). A given template that node-llama-cpp
 * cannot render is `MODEL_LOAD_FAILED` naming it.
 *
 * @example
 * ```ts
 * import { chatWrapperFor } from "./llama_cpp_chat.ts";
 * const lib = await import("node-llama-cpp");
 * const model = await (await lib.getLlama({ gpu: false })).loadModel({ modelPath: "m.gguf" });
 * console.log(chatWrapperFor(lib, model).wrapperName); // e.g. "ChatML" or "lode-plain"
 * ```
 */
export function chatWrapperFor(
  lib: typeof NodeLlamaCpp,
  model: NodeLlamaCpp.LlamaModel,
  template?: GivenTemplate,
): NodeLlamaCpp.ChatWrapper {
  if (template !== undefined) return givenTemplateWrapper(lib, model, template);
  if (typeof model.fileInfo.metadata.tokenizer?.chat_template !== "string") {
    return createPlainChatWrapper(lib);
  }
  return lib.resolveChatWrapper(model, { warningLogs: false });
}

/** The wrapper of a given template: node-llama-cpp's own for it (ChatML, Llama 3, …) or its Jinja renderer. */
function givenTemplateWrapper(
  lib: typeof NodeLlamaCpp,
  model: NodeLlamaCpp.LlamaModel,
  template: GivenTemplate,
): NodeLlamaCpp.ChatWrapper {
  const name = template.name ?? "given with the load";
  if (template.text.trim() === "") {
    throw new LodeError("MODEL_LOAD_FAILED", `the chat template ${name} is empty`, {
      details: { chat_template: name },
      hint: "Give a Jinja chat template, or none to use the model's own.",
    });
  }
  try {
    return lib.resolveChatWrapper(model, {
      warningLogs: false,
      fallbackToOtherWrappersOnJinjaError: false,
      customWrapperSettings: { jinjaTemplate: { template: template.text } },
    });
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new LodeError("MODEL_LOAD_FAILED", `the chat template ${name} does not render: ${reason}`, {
      details: { chat_template: name, reason },
      hint:
        "A chat template is Jinja over `messages` that shows each message; a stored model's comes from its " +
        "artifact: pull a version whose template works.",
      cause: e,
    });
  }
}

/**
 * The plain layout for models without a template:
 * `BOS system: …\nuser: …\nassistant: …\nuser: …\nassistant:`. Generation
 * stops at the end-of-text token or when the model starts another turn
 * (`\nuser:`, `\nsystem:`, `\nassistant:`).
 *
 * @example
 * ```ts
 * import { createPlainChatWrapper } from "./llama_cpp_chat.ts";
 * const wrapper = createPlainChatWrapper(await import("node-llama-cpp"));
 * const state = wrapper.generateContextState({ chatHistory: [{ type: "user", text: "Hi" }, { type: "model", response: [] }] });
 * console.log(state.contextText.toString()); // "BOSuser: Hi\nassistant:"
 * ```
 */
export function createPlainChatWrapper(lib: typeof NodeLlamaCpp): NodeLlamaCpp.ChatWrapper {
  const { ChatWrapper, LlamaText, SpecialToken } = lib;
  class PlainChatWrapper extends ChatWrapper {
    readonly wrapperName = PLAIN_CHAT_WRAPPER_NAME;

    override generateContextState(
      { chatHistory }: NodeLlamaCpp.ChatWrapperGenerateContextStateOptions,
    ): NodeLlamaCpp.ChatWrapperGeneratedContextState {
      const turns = chatHistory.map((item, index) => {
        const end = index === chatHistory.length - 1 ? "" : "\n";
        if (item.type === "system") return LlamaText(["system: ", LlamaText.fromJSON(item.text), end]);
        if (item.type === "user") return LlamaText(["user: ", item.text, end]);
        const response = this.generateModelResponseText(item.response);
        return LlamaText(["assistant:", response.toString() === "" ? "" : " ", response, end]);
      });
      return {
        contextText: LlamaText([new SpecialToken("BOS"), ...turns]),
        stopGenerationTriggers: [
          LlamaText(new SpecialToken("EOS")),
          LlamaText("\nuser:"),
          LlamaText("\nsystem:"),
          LlamaText("\nassistant:"),
        ],
      };
    }
  }
  return new PlainChatWrapper();
}

/**
 * `messages` as node-llama-cpp chat history. Rejects (USAGE) an empty list,
 * an unknown role, non-string content, or a `tool` message that answers no
 * call of the assistant message before it. An assistant message's tool
 * calls become function calls of its response, each with the result of the
 * `tool` message that answers it (`""` while none does); an assistant
 * message after tool results continues that same response, as the model
 * would have.
 *
 * @example
 * ```ts
 * import { toChatHistory } from "./llama_cpp_chat.ts";
 * toChatHistory([{ role: "user", content: "Hi" }]); // [{ type: "user", text: "Hi" }]
 * ```
 */
export function toChatHistory(messages: readonly ChatMessage[]): NodeLlamaCpp.ChatHistoryItem[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new LodeError("USAGE", "chat needs at least one message");
  }
  const history: NodeLlamaCpp.ChatHistoryItem[] = [];
  /** The function calls of the last assistant message, by call id, while tool results may answer them. */
  let open = new Map<string, NodeLlamaCpp.ChatModelFunctionCall>();
  let afterResults = false;
  messages.forEach((message, index) => {
    const { role, content } = message ?? {};
    if (!ROLES.has(role) || typeof content !== "string") {
      throw new LodeError(
        "USAGE",
        `chat message ${index} must be {role: "system"|"user"|"assistant"|"tool", content: string}`,
        { details: { index, role: String(role) } },
      );
    }
    if (role === "tool") {
      const call = open.get(String(message.toolCallId));
      if (call === undefined) {
        throw new LodeError(
          "USAGE",
          `chat message ${index} (tool) must answer a call of the assistant message before it by its toolCallId`,
          { details: { index, tool_call_id: String(message.toolCallId) } },
        );
      }
      open.delete(String(message.toolCallId));
      call.result = jsonOrText(content);
      afterResults = true;
      return;
    }
    const last = history.at(-1);
    if (role === "assistant") {
      const calls = functionCallsOf(message, index);
      const response = [...(content === "" ? [] : [content]), ...calls];
      if (afterResults && last?.type === "model") last.response.push(...response);
      else history.push({ type: "model", response });
      open = new Map(calls.map((call, i) => [message.toolCalls![i]!.id, call]));
      afterResults = false;
      return;
    }
    open = new Map();
    afterResults = false;
    history.push(role === "system" ? { type: "system", text: content } : { type: "user", text: content });
  });
  return history;
}

/** The function calls of an assistant message's `toolCalls`. */
function functionCallsOf(message: ChatMessage, index: number): NodeLlamaCpp.ChatModelFunctionCall[] {
  const calls = message.toolCalls ?? [];
  if (!Array.isArray(calls)) throw badCall(index, "toolCalls must be a list");
  return calls.map((call, i) => {
    if (typeof call?.id !== "string" || typeof call.name !== "string" || typeof call.arguments !== "string") {
      throw badCall(index, `tool call ${i} must be {id, name, arguments} (strings)`);
    }
    let params: unknown;
    try {
      params = call.arguments.trim() === "" ? undefined : JSON.parse(call.arguments);
    } catch {
      throw badCall(index, `tool call ${i}'s arguments are not JSON text`);
    }
    return { type: "functionCall", name: call.name, params, result: "", startsNewChunk: i === 0 };
  });
}

/** A tool result as the template shows it: its JSON value when it is JSON text, else the text. */
function jsonOrText(content: string): unknown {
  try {
    return JSON.parse(content);
  } catch {
    return content;
  }
}

function badCall(index: number, what: string): LodeError {
  return new LodeError("USAGE", `chat message ${index}: ${what}`, { details: { index } });
}

/**
 * The text `LlamaChat.generateResponse` loads for `messages`: the history
 * with an open assistant turn (an empty one is added unless the last message
 * is the assistant's, or a tool result, which is then continued), rendered by
 * `wrapper`, with `functions` documented to the model when given.
 *
 * @example
 * ```ts
 * import { chatWrapperFor, renderChatText } from "./llama_cpp_chat.ts";
 * const lib = await import("node-llama-cpp");
 * const model = await (await lib.getLlama({ gpu: false })).loadModel({ modelPath: "m.gguf" });
 * renderChatText(chatWrapperFor(lib, model), [{ role: "user", content: "Hi" }]).toString();
 * ```
 */
export function renderChatText(
  wrapper: NodeLlamaCpp.ChatWrapper,
  messages: readonly ChatMessage[],
  functions?: NodeLlamaCpp.ChatModelFunctions,
): NodeLlamaCpp.LlamaText {
  const history = toChatHistory(messages);
  if (history.at(-1)?.type !== "model") history.push({ type: "model", response: [] });
  return wrapper.generateContextState({
    chatHistory: history,
    ...(functions === undefined ? {} : { availableFunctions: functions, documentFunctionParams: true }),
  }).contextText;
}

/**
 * The tokens of {@link renderChatText}: what `LlamaChat.generateResponse` loads for `messages`.
 *
 * @example
 * ```ts
 * import { chatWrapperFor, renderChatTokens } from "./llama_cpp_chat.ts";
 * const lib = await import("node-llama-cpp");
 * const model = await (await lib.getLlama({ gpu: false })).loadModel({ modelPath: "m.gguf" });
 * const n = renderChatTokens(chatWrapperFor(lib, model), model, [{ role: "user", content: "Hi" }]).length;
 * ```
 */
export function renderChatTokens(
  wrapper: NodeLlamaCpp.ChatWrapper,
  model: NodeLlamaCpp.LlamaModel,
  messages: readonly ChatMessage[],
  functions?: NodeLlamaCpp.ChatModelFunctions,
): NodeLlamaCpp.Token[] {
  return renderChatText(wrapper, messages, functions).tokenize(model.tokenizer);
}
