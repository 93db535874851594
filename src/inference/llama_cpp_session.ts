/**
 * A model loaded by the node-llama-cpp backend: one context with one
 * sequence or more (`LoadOptions.sequences`, llama_cpp_slots.ts), each
 * running text completion (`generate`, a continuation of the prompt) or chat
 * (`chat`, the conversation rendered through the model's chat template, see
 * llama_cpp_chat.ts), plus a lazily created embedding context
 * (llama_cpp_embed.ts). Generations run as many at once as there are
 * sequences (decoded together), the others wait in call order; an embedding
 * takes a turn as a generation does; `close` aborts the running ones and frees
 * everything.
 *
 * Created only by `createLlamaCppBackend().load(...)`.
 *
 * @example
 * ```ts
 * import { createLlamaCppBackend } from "./llama_cpp_backend.ts";
 * const backend = createLlamaCppBackend();
 * const session = await backend.load("tests/fixtures/stories260K.gguf");
 * console.log((await session.generate("Once upon a time", { maxTokens: 40 }).result).text);
 * console.log((await session.chat([{ role: "user", content: "Hi" }], { maxTokens: 20 }).result).text);
 * await backend.close();
 * ```
 * @module
 */
import type * as NodeLlamaCpp from "node-llama-cpp";
import { LodeError } from "../errors.ts";
import type {
  Capabilities,
  ChatMessage,
  EmbedOptions,
  GenerateOptions,
  GenerateResult,
  Generation,
  Session,
  SessionInfo,
  ToolCall,
} from "./backend.ts";
import { createGeneration } from "./generation.ts";
import { renderChatTokens, toChatHistory } from "./llama_cpp_chat.ts";
import { LlamaCppEmbedder } from "./llama_cpp_embed.ts";
import { PromptMeter } from "./llama_cpp_prompt.ts";
import { type CheckedTools, checkTools, ToolCallStream } from "./llama_cpp_tools.ts";
import type { Slot, SlotPool } from "./llama_cpp_slots.ts";
import { detokenizeWith, tokenizeWith } from "./llama_cpp_vocabulary.ts";
import {
  checkAfterGeneration,
  type CheckedOptions,
  checkGenerateOptions,
  runTurn,
  samplingOptions,
} from "./llama_cpp_turn.ts";

/**
 * What a session is made of, handed over by the backend once loading succeeded.
 *
 * @example
 * ```ts
 * import type { SessionParts } from "./llama_cpp_session.ts";
 * type Clock = SessionParts["now"];
 * ```
 */
export interface SessionParts {
  lib: typeof NodeLlamaCpp;
  model: NodeLlamaCpp.LlamaModel;
  context: NodeLlamaCpp.LlamaContext;
  capabilities: Capabilities;
  info: SessionInfo;
  /** What renders its chats (llama_cpp_chat.ts `chatWrapperFor`, resolved at load). */
  wrapper: NodeLlamaCpp.ChatWrapper;
  now: () => number;
  onClosed: (session: LlamaCppSession) => void;
  /** The sequences of `context`, one generation on each at a time. */
  slots: SlotPool;
}

/** One generation, run on a free sequence; `promptTokens` were counted (and fit) at the call. */
type TurnBody = (
  turn: { checked: CheckedOptions; promptTokens: number; slot: Slot },
  emit: (chunk: string) => void,
  signal: AbortSignal,
) => Promise<GenerateResult>;

/**
 * The {@link Session} of the node-llama-cpp backend.
 *
 * @example
 * ```ts
 * import type { LlamaCppSession } from "./llama_cpp_session.ts";
 * const summary = (s: LlamaCppSession) => `${s.info.architecture} on ${s.capabilities.accelerator}`;
 * ```
 */
export class LlamaCppSession implements Session {
  readonly capabilities: Capabilities;
  readonly info: SessionInfo;
  readonly #parts: SessionParts;
  readonly #slots: SlotPool;
  readonly #embedder: LlamaCppEmbedder;
  readonly #meter: PromptMeter;
  readonly #closing = new AbortController();
  #closed: Promise<void> | undefined;

  constructor(parts: SessionParts) {
    this.#parts = parts;
    this.capabilities = parts.capabilities;
    this.info = parts.info;
    this.#slots = parts.slots;
    this.#meter = new PromptMeter(parts.model, parts.context.contextSize, parts.info.path);
    this.#embedder = new LlamaCppEmbedder({
      model: parts.model,
      contextSize: parts.info.contextSize,
      threads: parts.info.threads,
      path: parts.info.path,
      meter: this.#meter,
    });
  }

  generate(prompt: string, options: GenerateOptions = {}): Generation {
    const measure = () => {
      if (options.tools !== undefined || options.toolChoice !== undefined) {
        throw new LodeError("USAGE", "tools are given to chat(), not to generate()", {
          details: { field: "tools" },
        });
      }
      return this.#meter.completion(prompt);
    };
    return this.#start(
      "generate",
      options,
      measure,
      async ({ checked, promptTokens, slot }, emit, signal) => {
        const sampling = await samplingOptions(this.#parts.model.llama, checked);
        return runTurn({
          ...this.#turnBase(checked, slot, emit, signal),
          promptTokens,
          call: async (hooks) => {
            const response = await slot.completion.generateCompletionWithMeta(prompt, {
              ...sampling,
              ...hooks,
              maxTokens: checked.options.maxTokens,
              stopOnAbortSignal: true,
              disableContextShift: true, // stop at a full context rather than silently forget the prompt
              contextShiftSize: 1, // and never cut a prompt that fits (the default keeps a tenth of the context free)
            });
            return response.metadata.stopReason;
          },
        });
      },
    );
  }

  chat(messages: ChatMessage[], options: GenerateOptions = {}): Generation {
    let tools: CheckedTools | undefined;
    const measure = () => {
      tools = checkTools(options);
      if (tools !== undefined && !this.capabilities.tools) {
        throw new LodeError("USAGE", "this model cannot call tools: it has no chat template", {
          details: { path: this.info.path, field: "tools" },
        });
      }
      return this.#meter.chat(this.#chatWrapper(), messages, tools?.functions);
    };
    return this.#start("chat", options, measure, async ({ checked, promptTokens, slot }, emit, signal) => {
      const history = toChatHistory(messages);
      const room = this.#parts.context.contextSize - 1 - promptTokens; // LlamaChat keeps one token free
      const { grammar, ...sampling } = await samplingOptions(this.#parts.model.llama, checked);
      let calls: ToolCall[] = [];
      const stream = new ToolCallStream(checked.options.onToolCallDelta);
      const { chat, forcing } = slot.chat(this.#chatWrapper());
      const result = await runTurn({
        ...this.#turnBase(checked, slot, emit, signal),
        promptTokens,
        call: async (hooks) => {
          forcing.force = tools?.force ?? false;
          try {
            const response = await chat.generateResponse(history, {
              ...sampling,
              ...hooks,
              ...(tools === undefined ? { grammar } : {
                functions: tools.functions,
                documentFunctionParams: true,
                onFunctionCallParamsChunk: (piece) => stream.chunk(piece),
                ...(tools.maxParallel === undefined ? {} : { maxParallelFunctionCalls: tools.maxParallel }),
              }),
              // Never more than fits: LlamaChat would otherwise drop earlier messages to go on.
              maxTokens: Math.min(checked.options.maxTokens ?? room, room),
              stopOnAbortSignal: true,
            });
            calls = stream.finish(response.functionCalls);
            return response.metadata.stopReason;
          } finally {
            forcing.force = false;
          }
        },
      });
      if (calls.length === 0 || result.stopReason === "abort") return result;
      return { ...result, stopReason: "tool_calls", toolCalls: calls };
    });
  }

  renderChat(
    messages: ChatMessage[],
    options: Pick<GenerateOptions, "tools" | "toolChoice"> = {},
  ): Promise<string> {
    return this.#now("renderChat", () => {
      // The exact tokens chat() loads, as text: special tokens (BOS, <|im_start|>…) spelled out.
      const functions = this.capabilities.tools ? checkTools(options)?.functions : undefined;
      return this.#parts.model.detokenize(
        renderChatTokens(this.#chatWrapper(), this.#parts.model, messages, functions),
        true,
      );
    });
  }

  embed(texts: string[], options: EmbedOptions = {}): Promise<number[][]> {
    return this.#now("embed", () => {
      this.#embedder.check(texts); // a bad or far too long text is refused without waiting for the queue
      const signal = AbortSignal.any([options.signal, this.#closing.signal].filter((s) => s !== undefined));
      // In turn with the generations (it takes a sequence's turn; its context is its own).
      return this.#slots.run(() => this.#embedder.embed(texts, { ...options, signal }));
    });
  }

  tokenize(text: string): Promise<number[]> {
    return this.#now("tokenize", () => tokenizeWith(this.#parts.model, text));
  }

  detokenize(tokens: number[]): Promise<string> {
    return this.#now("detokenize", () => detokenizeWith(this.#parts.model, tokens));
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort(new DOMException("the session is closing", "AbortError"));
      await this.#slots.idle();
      this.#slots.dispose();
      await this.#embedder.dispose();
      await this.#parts.context.dispose();
      await this.#parts.model.dispose();
      this.#parts.onClosed(this);
    })();
    return this.#closed;
  }

  /**
   * A generation that checks its options and measures its prompt now (a prompt that does not fit the
   * context is refused at once, without waiting for earlier generations), and runs `body` on a free
   * sequence when there is one.
   */
  #start(what: string, options: GenerateOptions, measure: () => number, body: TurnBody): Generation {
    return createGeneration((emit, signal) => {
      this.#assertOpen(what);
      const checked = checkGenerateOptions(options);
      const promptTokens = measure();
      const both = AbortSignal.any([signal, this.#closing.signal]);
      return this.#slots.run((slot) =>
        body({ checked, promptTokens, slot }, emit, both).then((result) =>
          checkAfterGeneration(checked, result)
        )
      );
    }, { signal: options.signal });
  }

  #turnBase(checked: CheckedOptions, slot: Slot, emit: (chunk: string) => void, signal: AbortSignal) {
    const { now } = this.#parts;
    return {
      now,
      loadMs: this.info.loadMs,
      path: this.info.path,
      maxTokens: checked.options.maxTokens,
      signal,
      stop: checked.options.stop,
      sampledTokens: () => slot.sequence.tokenMeter.usedOutputTokens,
      emit,
    };
  }

  /** Runs `fn` on an open session, turning a synchronous throw into a rejection. */
  async #now<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    this.#assertOpen(what);
    return await fn();
  }

  #assertOpen(what: string): void {
    if (this.#closed !== undefined) {
      throw new LodeError("INFERENCE_FAILED", `${what}() called on a closed session`, {
        details: { path: this.info.path },
      });
    }
  }

  #chatWrapper(): NodeLlamaCpp.ChatWrapper {
    return this.#parts.wrapper;
  }
}
