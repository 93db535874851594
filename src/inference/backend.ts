/**
 * The inference backend contract: what `lode run`, the daemon and plugins
 * program against. A {@link Backend} loads a model file into a
 * {@link Session}; a session streams text for a prompt as a
 * {@link Generation} and reports a {@link GenerateResult} (text, stop reason,
 * {@link Usage}) when it ends.
 *
 * This file holds types only and imports nothing at run time, so code that
 * merely names a backend (`lode ls`, the CLI parser) never loads llama.cpp.
 *
 * @example
 * ```ts
 * import type { Backend } from "./backend.ts";
 * async function run(backend: Backend, path: string): Promise<void> {
 *   const session = await backend.load(path, { contextSize: 2048 });
 *   try {
 *     const generation = session.generate("Once upon a time", { maxTokens: 40, temperature: 0 });
 *     for await (const chunk of generation) console.log(chunk);
 *     console.log((await generation.result).usage.tokensPerSecond);
 *   } finally {
 *     await session.close();
 *   }
 * }
 * ```
 * @module
 */
import type { Capabilities, StatusEvent } from "../events/status_event.ts";

export type { Capabilities, StatusEvent };

/**
 * How much of a model goes to the accelerator: `"auto"` lets the backend
 * decide (everything that fits), `"off"` keeps it on the CPU, a number is an
 * exact count of layers to offload.
 *
 * @example
 * ```ts
 * import type { GpuSetting } from "./backend.ts";
 * const cpuOnly: GpuSetting = "off";
 * ```
 */
export type GpuSetting = "auto" | "off" | number;

/**
 * Options of {@link Backend.load}.
 *
 * @example
 * ```ts
 * import type { LoadOptions } from "./backend.ts";
 * const options: LoadOptions = { contextSize: 2048, threads: 1, gpu: "off", onStatus: (e) => console.log(e) };
 * ```
 */
export interface LoadOptions {
  /** Tokens of context (`n_ctx`). Default: the model's training context, at most 4096. */
  contextSize?: number;
  /** CPU threads for evaluation. Default: `defaultThreads()` (never oversubscribes). */
  threads?: number;
  /** Accelerator offload. Default `"auto"`. */
  gpu?: GpuSetting;
  /**
   * Receives `loading_model` (`mmap`, then `kv_cache`) and then `capabilities`
   * while the model loads. Must not block; errors it throws are ignored.
   */
  onStatus?: (event: StatusEvent) => void;
  /** Aborts the load; `load` then rejects with `LodeError("INTERRUPTED")`. */
  signal?: AbortSignal;
}

/**
 * Sampling and limits of one {@link Session.generate} call.
 *
 * @example
 * ```ts
 * import type { GenerateOptions } from "./backend.ts";
 * const greedy: GenerateOptions = { maxTokens: 40, temperature: 0 };
 * const sampled: GenerateOptions = { maxTokens: 200, temperature: 0.8, seed: 42, topK: 40, topP: 0.95 };
 * ```
 */
export interface GenerateOptions {
  /** Stop after this many generated tokens. Default: until end of text or a full context. */
  maxTokens?: number;
  /** 0 (the default) is greedy and deterministic; higher is more random. */
  temperature?: number;
  /** Seed of the sampler; the same seed, prompt and options give the same text. */
  seed?: number;
  /** Sample only from the K most likely tokens (0 = all). Only with temperature > 0. */
  topK?: number;
  /** Sample from the smallest set of tokens whose probability reaches P (1 = all). Only with temperature > 0. */
  topP?: number;
  /**
   * Stops the generation promptly. The stream then ends normally and the
   * result has `stopReason: "abort"` with the text produced so far.
   */
  signal?: AbortSignal;
}

/**
 * Why a generation ended: the model's end-of-text token (`eos`), a stop
 * sequence (`stop`), `maxTokens` (`max_tokens`), a full context window
 * (`context_full`), or an abort signal / the consumer leaving the loop
 * (`abort`).
 *
 * @example
 * ```ts
 * import type { StopReason } from "./backend.ts";
 * const truncated = (r: StopReason) => r === "max_tokens" || r === "context_full";
 * ```
 */
export type StopReason = "eos" | "stop" | "max_tokens" | "context_full" | "abort";

/**
 * Counters and timings of one generation. Times are milliseconds.
 *
 * @example
 * ```ts
 * import type { Usage } from "./backend.ts";
 * const line = (u: Usage) => `${u.generatedTokens} tokens, ${u.tokensPerSecond.toFixed(0)} tok/s`;
 * ```
 */
export interface Usage {
  /** Tokens of the prompt, a BOS token included (before any cut to fit the context). */
  promptTokens: number;
  /** Tokens generated. */
  generatedTokens: number;
  /** How long the session took to load (same for every generation of a session). */
  loadMs: number;
  /** From the start of the generation to the first generated token; null if none was generated. */
  timeToFirstTokenMs: number | null;
  /** From the start of the generation (after waiting for earlier ones) to its end. */
  totalMs: number;
  /**
   * Decode speed: tokens after the first divided by the time since the first
   * (prompt processing excluded, as llama.cpp reports "eval" speed). With
   * fewer than two tokens: generated tokens over `totalMs`.
   */
  tokensPerSecond: number;
}

/**
 * The summary of a finished generation.
 *
 * @example
 * ```ts
 * import type { GenerateResult } from "./backend.ts";
 * const show = (r: GenerateResult) => `${r.text} [${r.stopReason}]`;
 * ```
 */
export interface GenerateResult {
  /** All the text generated (the concatenation of the streamed chunks). */
  text: string;
  stopReason: StopReason;
  usage: Usage;
}

/**
 * A running generation: iterate it (once) for text chunks as they are
 * produced, and await `result` for the summary. It starts as soon as
 * `generate` is called; leaving the loop early (`break`) aborts it. A failure
 * rejects both the iteration and `result` with `LodeError("INFERENCE_FAILED")`.
 *
 * @example
 * ```ts
 * import type { Generation } from "./backend.ts";
 * async function print(g: Generation): Promise<number> {
 *   for await (const chunk of g) console.log(chunk);
 *   return (await g.result).usage.generatedTokens;
 * }
 * ```
 */
export interface Generation extends AsyncIterable<string> {
  /** Settles when the generation ends; awaiting it alone (without iterating) is fine too. */
  readonly result: Promise<GenerateResult>;
}

/**
 * Facts about a loaded model, for display and logs.
 *
 * @example
 * ```ts
 * import type { SessionInfo } from "./backend.ts";
 * const line = (i: SessionInfo) => `${i.architecture}, n_ctx ${i.contextSize}, ${i.threads} threads`;
 * ```
 */
export interface SessionInfo {
  /** The model file that was loaded. */
  path: string;
  /** GGUF `general.architecture` (e.g. `llama`, `qwen3`). */
  architecture: string;
  /** The context size actually allocated. */
  contextSize: number;
  /** The context the model was trained with. */
  trainContextSize: number;
  /** CPU threads used for evaluation. */
  threads: number;
  /** True when the GGUF carries a chat template (chat support comes later; today text is continued). */
  hasChatTemplate: boolean;
  /** Milliseconds `load` took, runtime start-up included. */
  loadMs: number;
}

/**
 * A model loaded into memory with a context, ready to generate. Generations
 * on one session run one after another, in call order.
 *
 * @example
 * ```ts
 * import type { Session } from "./backend.ts";
 * async function complete(session: Session, prompt: string): Promise<string> {
 *   return (await session.generate(prompt, { maxTokens: 64, temperature: 0 }).result).text;
 * }
 * ```
 */
export interface Session {
  readonly capabilities: Capabilities;
  readonly info: SessionInfo;
  /** Streams a continuation of `prompt`. */
  generate(prompt: string, options?: GenerateOptions): Generation;
  /** Aborts running generations and frees the context and the model. Idempotent. */
  close(): Promise<void>;
}

/**
 * An inference runtime that can load model files.
 *
 * @example
 * ```ts
 * import type { Backend } from "./backend.ts";
 * async function probe(backend: Backend, path: string): Promise<boolean> {
 *   const session = await backend.load(path, { gpu: "off" });
 *   await session.close();
 *   return session.capabilities.embed;
 * }
 * ```
 */
export interface Backend {
  /** Stable identifier, also reported as `capabilities.backend`. */
  readonly name: string;
  /**
   * Loads the model at `path`. Rejects with `LodeError("MODEL_LOAD_FAILED")`
   * when the file is not a model this backend can run, and with
   * `LodeError("INTERRUPTED")` when `options.signal` aborts it.
   */
  load(path: string, options?: LoadOptions): Promise<Session>;
  /** Closes every open session and releases the runtime. Idempotent. */
  close(): Promise<void>;
}
