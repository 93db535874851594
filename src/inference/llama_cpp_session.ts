/**
 * A model loaded by the node-llama-cpp backend: one context, one sequence,
 * text completion (a continuation of the prompt) streamed as a
 * {@link Generation}. Generations run one after another; `close` aborts the
 * running one and frees the context and the model.
 *
 * Created only by `createLlamaCppBackend().load(...)`.
 *
 * @example
 * ```ts
 * import { createLlamaCppBackend } from "./llama_cpp_backend.ts";
 * const backend = createLlamaCppBackend();
 * const session = await backend.load("tests/fixtures/stories260K.gguf");
 * console.log((await session.generate("Once upon a time", { maxTokens: 40 }).result).text);
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
  StopReason,
} from "./backend.ts";
import { createGeneration } from "./generation.ts";

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
  readonly #completion: NodeLlamaCpp.LlamaCompletion;
  readonly #closing = new AbortController();
  #queue: Promise<unknown> = Promise.resolve();
  #closed: Promise<void> | undefined;

  constructor(parts: SessionParts) {
    this.#parts = parts;
    this.capabilities = parts.capabilities;
    this.info = parts.info;
    this.#completion = new parts.lib.LlamaCompletion({ contextSequence: parts.context.getSequence() });
  }

  generate(prompt: string, options: GenerateOptions = {}): Generation {
    return createGeneration((emit, signal) => {
      if (this.#closed !== undefined) {
        return Promise.reject(new LodeError("INFERENCE_FAILED", "generate() called on a closed session"));
      }
      validateGenerateOptions(options);
      const both = AbortSignal.any([signal, this.#closing.signal]);
      const turn = this.#queue.then(() => this.#run(prompt, options, emit, both));
      this.#queue = turn.catch(() => {});
      return turn;
    }, { signal: options.signal });
  }

  // TEMPORARY (being implemented on the `inference` branch): throw until then.
  chat(_messages: ChatMessage[], _options?: GenerateOptions): Generation {
    throw new LodeError("INTERNAL", "chat is not implemented yet");
  }
  renderChat(_messages: ChatMessage[]): Promise<string> {
    return Promise.reject(new LodeError("INTERNAL", "renderChat is not implemented yet"));
  }
  embed(_texts: string[], _options?: EmbedOptions): Promise<number[][]> {
    return Promise.reject(new LodeError("INTERNAL", "embed is not implemented yet"));
  }
  tokenize(_text: string): Promise<number[]> {
    return Promise.reject(new LodeError("INTERNAL", "tokenize is not implemented yet"));
  }
  detokenize(_tokens: number[]): Promise<string> {
    return Promise.reject(new LodeError("INTERNAL", "detokenize is not implemented yet"));
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort(new DOMException("the session is closing", "AbortError"));
      await this.#queue;
      this.#completion.dispose({ disposeSequence: true });
      await this.#parts.context.dispose();
      await this.#parts.model.dispose();
      this.#parts.onClosed(this);
    })();
    return this.#closed;
  }

  async #run(
    prompt: string,
    options: GenerateOptions,
    emit: (chunk: string) => void,
    signal: AbortSignal,
  ): Promise<GenerateResult> {
    const { now, model } = this.#parts;
    const start = now();
    let first: number | null = null;
    let generated = 0;
    let text = "";
    const finish = (stopReason: StopReason): GenerateResult => {
      const end = now();
      const decodeMs = first === null ? 0 : end - first;
      const tokensPerSecond = generated >= 2 && decodeMs > 0
        ? (generated - 1) / (decodeMs / 1000)
        : end > start
        ? generated / ((end - start) / 1000)
        : 0;
      const usage = {
        promptTokens: countPromptTokens(model, prompt),
        generatedTokens: generated,
        loadMs: this.info.loadMs,
        timeToFirstTokenMs: first === null ? null : first - start,
        totalMs: end - start,
        tokensPerSecond,
      };
      return { text, stopReason, usage };
    };
    if (signal.aborted) return finish("abort");
    try {
      const response = await this.#completion.generateCompletionWithMeta(prompt, {
        maxTokens: options.maxTokens,
        temperature: options.temperature ?? 0,
        seed: options.seed,
        topK: options.topK,
        topP: options.topP,
        signal,
        stopOnAbortSignal: true,
        disableContextShift: true, // stop at a full context rather than silently forget the prompt
        onToken: (tokens) => {
          first ??= now();
          generated += tokens.length;
        },
        onTextChunk: (chunk) => {
          text += chunk;
          emit(chunk);
        },
      });
      return finish(stopReasonOf(response.metadata.stopReason, options.maxTokens, generated));
    } catch (e) {
      if (signal.aborted) return finish("abort");
      throw new LodeError("INFERENCE_FAILED", `generation failed: ${errorMessage(e)}`, {
        details: { path: this.info.path, generated_tokens: generated },
        cause: e,
      });
    }
  }
}

function stopReasonOf(reason: string, maxTokens: number | undefined, generated: number): StopReason {
  switch (reason) {
    case "eogToken":
      return "eos";
    case "maxTokens":
      return maxTokens !== undefined && generated >= maxTokens ? "max_tokens" : "context_full";
    case "abort":
      return "abort";
    default:
      return "stop";
  }
}

/** The prompt as LlamaCompletion feeds it: a BOS token (if the model wants one) and the text. */
function countPromptTokens(model: NodeLlamaCpp.LlamaModel, prompt: string): number {
  if (model.disposed) return 0;
  const bos = model.tokens.shouldPrependBosToken;
  return model.tokenize(prompt, false, bos ? "trimLeadingSpace" : undefined).length + (bos ? 1 : 0);
}

function validateGenerateOptions(options: GenerateOptions): void {
  const { maxTokens, temperature } = options;
  if (maxTokens !== undefined && !isPositiveInteger(maxTokens)) {
    throw new LodeError("USAGE", `maxTokens must be a positive integer, got ${maxTokens}`, {
      details: { maxTokens },
    });
  }
  if (temperature !== undefined && !(temperature >= 0)) {
    throw new LodeError("USAGE", `temperature must be 0 or more, got ${temperature}`, {
      details: { temperature },
    });
  }
}

function isPositiveInteger(n: number): boolean {
  return Number.isInteger(n) && n > 0;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
