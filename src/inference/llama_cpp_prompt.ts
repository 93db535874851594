/**
 * The prompt sizes of the node-llama-cpp backend, checked against the
 * context before anything queues or is evaluated (context_limit.ts): a
 * completion's prompt as `LlamaCompletion` feeds it (a BOS token and the
 * text), a chat's conversation as its chat template renders it, an
 * embedding's text as `LlamaEmbeddingContext` feeds it.
 *
 * A text far longer than the context is refused without tokenizing it: in a
 * SentencePiece, byte-level BPE or RWKV vocabulary every byte of the input
 * is part of some token's text, so a token stands for at most as many bytes
 * as the longest token's text has, and bytes / that is a lower bound of the
 * count. Other vocabularies (WordPiece, Unigram) drop or normalise input
 * (runs of spaces), so their texts are always tokenized.
 *
 * @example
 * ```ts
 * import { PromptMeter } from "./llama_cpp_prompt.ts";
 * const lib = await import("node-llama-cpp");
 * const model = await (await lib.getLlama({ gpu: false })).loadModel({ modelPath: "tests/fixtures/stories260K.gguf" });
 * const meter = new PromptMeter(model, 2048, "stories260K.gguf");
 * meter.completion("Once upon a time"); // 7: BOS and six tokens
 * meter.completion("Once upon a time ".repeat(200_000)); // throws CONTEXT_LENGTH_EXCEEDED at once
 * ```
 * @module
 */
import type * as NodeLlamaCpp from "node-llama-cpp";
import type { ChatMessage } from "./backend.ts";
import {
  checkFitsContext,
  type ContextInput,
  contextLengthExceeded,
  fitsContext,
  tokensAtLeast,
  utf8Length,
} from "./context_limit.ts";
import { renderChatText } from "./llama_cpp_chat.ts";

/**
 * Tokens `LlamaChat` keeps free beyond the prompt (it compresses the history, dropping messages, of a
 * conversation that leaves fewer): a conversation needs room for them as well as one generated token.
 */
const CHAT_RESERVED = 1;

/** Vocabulary types whose every input byte is covered by some token's text. */
const BYTE_COVERING = new Set(["spm", "bpe", "rwkv"]);

/**
 * Counts a session's inputs in tokens, refusing one that does not fit its context.
 *
 * @example
 * ```ts
 * import type { PromptMeter } from "./llama_cpp_prompt.ts";
 * const fits = (meter: PromptMeter, text: string) => meter.completion(text) > 0;
 * ```
 */
export class PromptMeter {
  readonly #model: NodeLlamaCpp.LlamaModel;
  readonly #contextSize: number;
  readonly #path: string;
  #maxTokenBytes: number | null | undefined;

  constructor(model: NodeLlamaCpp.LlamaModel, contextSize: number, path: string) {
    this.#model = model;
    this.#contextSize = contextSize;
    this.#path = path;
  }

  /**
   * The tokens of a completion prompt as `LlamaCompletion` feeds it: a BOS token (when the model wants
   * one) and the text. Throws `CONTEXT_LENGTH_EXCEEDED` when they do not fit.
   */
  completion(prompt: string): number {
    const model = this.#model;
    if (model.disposed) return 0;
    const input: ContextInput = { kind: "prompt" };
    this.#refuseLong(input, utf8Length, prompt);
    const bos = model.tokens.shouldPrependBosToken;
    const tokens = model.tokenize(prompt, false, bos ? "trimLeadingSpace" : undefined).length + (bos ? 1 : 0);
    this.#check(input, tokens);
    return tokens;
  }

  /**
   * The tokens `LlamaChat.generateResponse` loads for `messages` (see `renderChatText`), with `functions`
   * documented to the model when given. Throws
   * `CONTEXT_LENGTH_EXCEEDED` when they do not fit.
   */
  chat(
    wrapper: NodeLlamaCpp.ChatWrapper,
    messages: readonly ChatMessage[],
    functions?: NodeLlamaCpp.ChatModelFunctions,
  ): number {
    const input: ContextInput = { kind: "conversation" };
    const text = renderChatText(wrapper, messages, functions);
    // Only the plain text of the rendering is counted: special tokens add to the bound.
    this.#refuseLong(input, textBytes, text, CHAT_RESERVED);
    const tokens = text.tokenize(this.#model.tokenizer).length;
    this.#check(input, tokens, CHAT_RESERVED);
    return tokens;
  }

  /**
   * Refuses the first of `texts` whose bytes alone show it cannot fit (`CONTEXT_LENGTH_EXCEEDED`),
   * without tokenizing any.
   */
  refuseLongTexts(texts: readonly string[]): void {
    texts.forEach((text, index) => this.#refuseLong({ kind: "text", index }, utf8Length, text));
  }

  /**
   * Checks embedding texts counted by `count` (the embedding context's own count, BOS and EOS included):
   * throws `CONTEXT_LENGTH_EXCEEDED` naming the first that does not fit.
   */
  embedding(texts: readonly string[], count: (text: string) => number): void {
    texts.forEach((text, index) => this.#check({ kind: "text", index }, count(text)));
  }

  #check(input: ContextInput, tokens: number, reserved = 0): void {
    const count = { tokens, exact: true };
    checkFitsContext({
      input,
      count,
      contextSize: this.#contextSize,
      reserved,
      details: { path: this.#path },
    });
  }

  /** Refuses `value` without tokenizing it when its bytes alone show it cannot fit. */
  #refuseLong<T>(input: ContextInput, bytesOf: (value: T) => number, value: T, reserved = 0): void {
    const max = this.#maxBytes();
    if (max === null) return;
    const contextSize = this.#contextSize;
    // Nothing to measure when even 3 bytes per UTF-16 unit could not reach the context (every short text).
    if (typeof value === "string" && !(tokensAtLeast(3 * value.length, max) + reserved >= contextSize)) {
      return;
    }
    const bytes = bytesOf(value);
    const count = { tokens: tokensAtLeast(bytes, max), exact: false, bytes };
    if (!fitsContext(count.tokens, contextSize, reserved)) {
      throw contextLengthExceeded({ input, count, contextSize, reserved, details: { path: this.#path } });
    }
  }

  /** The UTF-8 length of the longest token's text, or null when the vocabulary may drop input. */
  #maxBytes(): number | null {
    if (this.#maxTokenBytes !== undefined) return this.#maxTokenBytes;
    const tokens = this.#model.fileInfo.metadata.tokenizer?.ggml?.tokens;
    let max: number | null = null;
    if (BYTE_COVERING.has(this.#model.vocabularyType) && Array.isArray(tokens) && tokens.length > 0) {
      max = 1;
      for (const token of tokens) if (typeof token === "string") max = Math.max(max, utf8Length(token));
    }
    this.#maxTokenBytes = max;
    return max;
  }
}

/** The UTF-8 bytes of the plain text in `text` (special tokens not counted). */
function textBytes(text: NodeLlamaCpp.LlamaText): number {
  let bytes = 0;
  for (const value of text.values) if (typeof value === "string") bytes += utf8Length(value);
  return bytes;
}
