/**
 * Embeddings for the node-llama-cpp backend. The embedding context (a second
 * llama.cpp context with embeddings on, as large as the session's) is
 * created on the first `embed`, so sessions that only generate never pay for
 * it. A vector is the model's pooled output for the whole text (the
 * last-token state for decoder models without a pooling type), of
 * `<arch>.embedding_length` numbers, L2-normalised unless asked otherwise.
 *
 * @example
 * ```ts
 * import { LlamaCppEmbedder } from "./llama_cpp_embed.ts";
 * import { PromptMeter } from "./llama_cpp_prompt.ts";
 * const lib = await import("node-llama-cpp");
 * const model = await (await lib.getLlama({ gpu: false })).loadModel({ modelPath: "tests/fixtures/stories260K.gguf" });
 * const meter = new PromptMeter(model, 512, "stories260K.gguf");
 * const embedder = new LlamaCppEmbedder({ model, contextSize: 512, threads: 1, path: "stories260K.gguf", meter });
 * const [vector] = await embedder.embed(["Once upon a time"]);
 * await embedder.dispose();
 * ```
 * @module
 */
import type * as NodeLlamaCpp from "node-llama-cpp";
import { LodeError } from "../errors.ts";
import type { EmbedOptions } from "./backend.ts";
import type { PromptMeter } from "./llama_cpp_prompt.ts";

/**
 * What {@link LlamaCppEmbedder} needs: the loaded model and the context
 * settings of the session it belongs to.
 *
 * @example
 * ```ts
 * import type { EmbedderParts } from "./llama_cpp_embed.ts";
 * type Threads = EmbedderParts["threads"];
 * ```
 */
export interface EmbedderParts {
  model: NodeLlamaCpp.LlamaModel;
  contextSize: number;
  threads: number;
  /** The model file, for error details. */
  path: string;
  /** Checks the texts against the context (the session's). */
  meter: PromptMeter;
}

/**
 * Whether llama.cpp can compute embeddings with `model` (every model but
 * encoder-decoder ones, e.g. T5).
 *
 * @example
 * ```ts
 * import { canEmbed } from "./llama_cpp_embed.ts";
 * const lib = await import("node-llama-cpp");
 * const model = await (await lib.getLlama({ gpu: false })).loadModel({ modelPath: "m.gguf" });
 * console.log(canEmbed(model)); // true for llama
 * ```
 */
export function canEmbed(model: NodeLlamaCpp.LlamaModel): boolean {
  return !(model.fileInsights.hasEncoder && model.fileInsights.hasDecoder);
}

/**
 * Computes embeddings with a lazily created embedding context. Calls must
 * not overlap (the session's queue serialises them).
 *
 * @example
 * ```ts
 * import type { LlamaCppEmbedder } from "./llama_cpp_embed.ts";
 * const cosine = async (e: LlamaCppEmbedder, a: string, b: string) => {
 *   const [x, y] = await e.embed([a, b]);
 *   return x!.reduce((sum, v, i) => sum + v * y![i]!, 0);
 * };
 * ```
 */
export class LlamaCppEmbedder {
  readonly #parts: EmbedderParts;
  #context: Promise<NodeLlamaCpp.LlamaEmbeddingContext> | undefined;

  constructor(parts: EmbedderParts) {
    this.#parts = parts;
  }

  /**
   * Checks `texts` without evaluating anything: USAGE for a non-list or an
   * empty text, INFERENCE_FAILED for an encoder-decoder model,
   * CONTEXT_LENGTH_EXCEEDED for a text whose bytes alone show it cannot fit.
   */
  check(texts: readonly string[]): void {
    const { model, path } = this.#parts;
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== "string" || t === "")) {
      throw new LodeError("USAGE", "embed needs a list of non-empty texts", { details: { path } });
    }
    if (!canEmbed(model)) {
      throw new LodeError(
        "INFERENCE_FAILED",
        `${path} is an encoder-decoder model; it cannot compute embeddings`,
        { details: { path } },
      );
    }
    this.#parts.meter.refuseLongTexts(texts);
  }

  /**
   * One vector per text, in order. Rejects as {@link check} does, with
   * CONTEXT_LENGTH_EXCEEDED for a text as long as the context or longer
   * (before any is embedded), and with INTERRUPTED when `signal` aborts
   * (checked between texts).
   */
  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<number[][]> {
    const { path } = this.#parts;
    this.check(texts);
    throwIfAborted(options.signal);
    const context = await this.#embeddingContext();
    this.#parts.meter.embedding(texts, (text) => context.calculateInputLength(text));
    const normalize = options.normalize ?? true;
    const vectors: number[][] = [];
    for (const [index, text] of texts.entries()) {
      throwIfAborted(options.signal);
      let vector: number[];
      try {
        vector = [...(await context.getEmbeddingFor(text)).vector];
      } catch (e) {
        throw new LodeError(
          "INFERENCE_FAILED",
          `computing the embedding of text ${index} failed: ${message(e)}`,
          {
            details: { path, index },
            cause: e,
          },
        );
      }
      vectors.push(normalize ? normalized(vector) : vector);
    }
    throwIfAborted(options.signal);
    return vectors;
  }

  /** Frees the embedding context, if one was created. Idempotent. */
  async dispose(): Promise<void> {
    const pending = this.#context;
    this.#context = undefined;
    const context = await pending?.catch(() => undefined);
    await context?.dispose();
  }

  #embeddingContext(): Promise<NodeLlamaCpp.LlamaEmbeddingContext> {
    if (this.#context === undefined) {
      const { model, contextSize, threads, path } = this.#parts;
      const pending = model.createEmbeddingContext({ contextSize, threads }).catch((e) => {
        this.#context = undefined; // a later call may try again (e.g. after memory was freed)
        throw new LodeError("INFERENCE_FAILED", `could not create an embedding context: ${message(e)}`, {
          details: { path, context_size: contextSize },
          cause: e,
        });
      });
      this.#context = pending;
    }
    return this.#context;
  }
}

/**
 * `vector` scaled to length 1 (a zero vector stays zero).
 *
 * @example
 * ```ts
 * import { normalized } from "./llama_cpp_embed.ts";
 * normalized([3, 4]); // [0.6, 0.8]
 * ```
 */
export function normalized(vector: readonly number[]): number[] {
  const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
  return norm === 0 || !Number.isFinite(norm) ? [...vector] : vector.map((v) => v / norm);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new LodeError("INTERRUPTED", "embedding was cancelled", { cause: signal.reason });
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
