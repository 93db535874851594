/**
 * Tokenizing with node-llama-cpp: the one implementation of `tokenize` and
 * `detokenize` that a loaded session and a vocabulary-only load share, so
 * both give the same ids for the same text.
 *
 * A vocabulary-only load (`vocabOnly`) reads the GGUF's metadata and its
 * tokenizer, no tensors and no context: a few MB and milliseconds instead
 * of the whole model, and no inference thread to hop to.
 *
 * @example
 * ```ts
 * import { createLlamaCppBackend } from "./llama_cpp_backend.ts";
 * const backend = createLlamaCppBackend();
 * const vocabulary = await backend.loadVocabulary!("tests/fixtures/stories260K.gguf");
 * console.log(vocabulary.tokenize("Once upon a time")); // the ids a session of that model gives
 * await backend.close();
 * ```
 * @module
 */
import type * as NodeLlamaCpp from "node-llama-cpp";
import { LodeError } from "../errors.ts";
import type { Vocabulary } from "./backend.ts";

/**
 * The token ids of `text` in `model`'s vocabulary (no BOS added, special tokens not parsed).
 */
export function tokenizeWith(model: NodeLlamaCpp.LlamaModel, text: string): number[] {
  if (typeof text !== "string") throw new LodeError("USAGE", "tokenize needs a string");
  return model.tokenize(text, false); // a new array (node-llama-cpp copies the addon's)
}

/**
 * The text of `tokens` in `model`'s vocabulary. Every id is checked first (llama.cpp aborts the whole
 * process on an id outside the vocabulary): a bad one is a `USAGE` error naming its index.
 */
export function detokenizeWith(model: NodeLlamaCpp.LlamaModel, tokens: number[]): string {
  checkTokenIds(tokens, model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0);
  return model.detokenize(tokens as NodeLlamaCpp.Token[], false);
}

/**
 * Throws a `USAGE` error naming the first item of `tokens` that is not an id of a vocabulary of `size`
 * tokens (llama.cpp aborts the whole process on one).
 *
 * @example
 * ```ts
 * checkTokenIds([1, 2, 3], 512); // fine
 * checkTokenIds([1, 512], 512); // throws: item 1 is 512
 * ```
 */
export function checkTokenIds(tokens: number[], size: number): void {
  const bad = Array.isArray(tokens)
    ? tokens.findIndex((t) => !(Number.isInteger(t) && t >= 0 && t < size))
    : 0;
  if (bad !== -1) {
    throw new LodeError(
      "USAGE",
      `detokenize needs token ids from 0 to ${size - 1}; item ${bad} is ${String(tokens?.[bad])}`,
      { details: { index: bad, vocabulary_size: size } },
    );
  }
}

/**
 * A {@link Vocabulary} over a model node-llama-cpp loaded with `vocabOnly`. Created by the backend's
 * `loadVocabulary`; `onClosed` lets the backend forget it.
 */
export class LlamaCppVocabulary implements Vocabulary {
  readonly #model: NodeLlamaCpp.LlamaModel;
  readonly #onClosed: (vocabulary: LlamaCppVocabulary) => void;
  #closed: Promise<void> | undefined;

  constructor(model: NodeLlamaCpp.LlamaModel, onClosed: (vocabulary: LlamaCppVocabulary) => void) {
    this.#model = model;
    this.#onClosed = onClosed;
  }

  tokenize(text: string): number[] {
    this.#assertOpen("tokenize");
    return tokenizeWith(this.#model, text);
  }

  detokenize(tokens: number[]): string {
    this.#assertOpen("detokenize");
    return detokenizeWith(this.#model, tokens);
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#model.dispose();
      this.#onClosed(this);
    })();
    return this.#closed;
  }

  #assertOpen(what: string): void {
    if (this.#closed !== undefined) {
      throw new LodeError("INFERENCE_FAILED", `${what}() called on a closed vocabulary`);
    }
  }
}
