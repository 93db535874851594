/**
 * A model loaded by the node-llama-cpp backend: one context with one
 * sequence, shared by text completion (`generate`, a continuation of the
 * prompt) and chat (`chat`, the conversation rendered through the model's
 * chat template, see llama_cpp_chat.ts), plus a lazily created embedding
 * context (llama_cpp_embed.ts). Generations and embeddings run one after
 * another in call order; `close` aborts the running one and frees
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
} from "./backend.ts";
import { createGeneration } from "./generation.ts";
import { chatWrapperFor, renderChatTokens, toChatHistory } from "./llama_cpp_chat.ts";
import { LlamaCppEmbedder } from "./llama_cpp_embed.ts";
import { detokenizeWith, tokenizeWith } from "./llama_cpp_vocabulary.ts";
import { type CheckedOptions, checkGenerateOptions, runTurn, samplingOptions } from "./llama_cpp_turn.ts";

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
  now: () => number;
  onClosed: (session: LlamaCppSession) => void;
}

type TurnBody = (checked: CheckedOptions, emit: (chunk: string) => void, signal: AbortSignal) => Promise<
  GenerateResult
>;

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
  readonly #sequence: NodeLlamaCpp.LlamaContextSequence;
  readonly #completion: NodeLlamaCpp.LlamaCompletion;
  readonly #embedder: LlamaCppEmbedder;
  readonly #closing = new AbortController();
  #chat: NodeLlamaCpp.LlamaChat | undefined;
  #wrapper: NodeLlamaCpp.ChatWrapper | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed: Promise<void> | undefined;

  constructor(parts: SessionParts) {
    this.#parts = parts;
    this.capabilities = parts.capabilities;
    this.info = parts.info;
    this.#sequence = parts.context.getSequence();
    this.#completion = new parts.lib.LlamaCompletion({ contextSequence: this.#sequence });
    this.#embedder = new LlamaCppEmbedder({
      model: parts.model,
      contextSize: parts.info.contextSize,
      threads: parts.info.threads,
      path: parts.info.path,
    });
  }

  generate(prompt: string, options: GenerateOptions = {}): Generation {
    return this.#start("generate", options, async (checked, emit, signal) => {
      const { model } = this.#parts;
      const sampling = await samplingOptions(model.llama, checked);
      return runTurn({
        ...this.#turnBase(checked, emit, signal),
        promptTokens: countPromptTokens(model, prompt),
        call: async (hooks) => {
          const response = await this.#completion.generateCompletionWithMeta(prompt, {
            ...sampling,
            ...hooks,
            maxTokens: checked.options.maxTokens,
            stopOnAbortSignal: true,
            disableContextShift: true, // stop at a full context rather than silently forget the prompt
          });
          return response.metadata.stopReason;
        },
      });
    });
  }

  chat(messages: ChatMessage[], options: GenerateOptions = {}): Generation {
    return this.#start("chat", options, async (checked, emit, signal) => {
      const { model, context } = this.#parts;
      const history = toChatHistory(messages);
      const promptTokens = renderChatTokens(this.#chatWrapper(), model, messages).length;
      const room = context.contextSize - promptTokens;
      if (room <= 0) {
        throw new LodeError(
          "INFERENCE_FAILED",
          `the conversation is ${promptTokens} tokens and does not fit the ${context.contextSize}-token ` +
            "context; drop earlier messages or load the model with a larger context size",
          {
            details: { path: this.info.path, prompt_tokens: promptTokens, context_size: context.contextSize },
          },
        );
      }
      const sampling = await samplingOptions(model.llama, checked);
      return runTurn({
        ...this.#turnBase(checked, emit, signal),
        promptTokens,
        call: async (hooks) => {
          const response = await this.#llamaChat().generateResponse(history, {
            ...sampling,
            ...hooks,
            // Never more than fits: LlamaChat would otherwise drop earlier messages to go on.
            maxTokens: Math.min(checked.options.maxTokens ?? room, room),
            stopOnAbortSignal: true,
          });
          return response.metadata.stopReason;
        },
      });
    });
  }

  renderChat(messages: ChatMessage[]): Promise<string> {
    return this.#now("renderChat", () => {
      // The exact tokens chat() loads, as text: special tokens (BOS, <|im_start|>…) spelled out.
      return this.#parts.model.detokenize(
        renderChatTokens(this.#chatWrapper(), this.#parts.model, messages),
        true,
      );
    });
  }

  embed(texts: string[], options: EmbedOptions = {}): Promise<number[][]> {
    return this.#now("embed", () => {
      const signal = AbortSignal.any([options.signal, this.#closing.signal].filter((s) => s !== undefined));
      return this.#enqueue(() => this.#embedder.embed(texts, { ...options, signal }));
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
      await this.#queue;
      this.#chat?.dispose({ disposeSequence: false });
      this.#completion.dispose({ disposeSequence: true });
      await this.#embedder.dispose();
      await this.#parts.context.dispose();
      await this.#parts.model.dispose();
      this.#parts.onClosed(this);
    })();
    return this.#closed;
  }

  /** A generation that checks its options now and runs `body` when earlier ones are done. */
  #start(what: string, options: GenerateOptions, body: TurnBody): Generation {
    return createGeneration((emit, signal) => {
      this.#assertOpen(what);
      const checked = checkGenerateOptions(options);
      const both = AbortSignal.any([signal, this.#closing.signal]);
      return this.#enqueue(() => body(checked, emit, both));
    }, { signal: options.signal });
  }

  #turnBase(checked: CheckedOptions, emit: (chunk: string) => void, signal: AbortSignal) {
    const { now } = this.#parts;
    return {
      now,
      loadMs: this.info.loadMs,
      path: this.info.path,
      maxTokens: checked.options.maxTokens,
      signal,
      stop: checked.options.stop,
      sampledTokens: () => this.#sequence.tokenMeter.usedOutputTokens,
      emit,
    };
  }

  #enqueue<T>(run: () => Promise<T>): Promise<T> {
    const turn = this.#queue.then(run);
    this.#queue = turn.catch(() => {});
    return turn;
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
    this.#wrapper ??= chatWrapperFor(this.#parts.lib, this.#parts.model);
    return this.#wrapper;
  }

  #llamaChat(): NodeLlamaCpp.LlamaChat {
    this.#chat ??= new this.#parts.lib.LlamaChat({
      contextSequence: this.#sequence,
      chatWrapper: this.#chatWrapper(),
    });
    return this.#chat;
  }
}

/** The prompt as LlamaCompletion feeds it: a BOS token (if the model wants one) and the text. */
function countPromptTokens(model: NodeLlamaCpp.LlamaModel, prompt: string): number {
  if (model.disposed) return 0;
  const bos = model.tokens.shouldPrependBosToken;
  return model.tokenize(prompt, false, bos ? "trimLeadingSpace" : undefined).length + (bos ? 1 : 0);
}
