/**
 * The options of the inference backend contract's calls (backend.ts, which re-exports them): how a model
 * is loaded ({@link LoadOptions}, {@link GpuSetting}), how one generation samples and where it stops
 * ({@link GenerateOptions}), and how texts are embedded ({@link EmbedOptions}).
 *
 * Types only, like backend.ts: importing this file loads nothing at run time.
 *
 * @example
 * ```ts
 * import type { GenerateOptions, LoadOptions } from "./backend_options.ts";
 * const load: LoadOptions = { contextSize: 2048, gpu: "off" };
 * const greedy: GenerateOptions = { maxTokens: 40, temperature: 0 };
 * ```
 * @module
 */
import type { StatusEvent } from "../events/status_event.ts";
import type { CpuAffinity } from "./cpu_affinity.ts";
import type { ToolCallDelta, ToolChoice, ToolDefinition } from "./backend_tools.ts";

/**
 * How much of a model goes to the accelerator: `"auto"` lets the backend
 * decide (everything that fits), `"off"` keeps it on the CPU, a number is an
 * exact count of layers to offload.
 *
 * @example
 * ```ts
 * import type { GpuSetting } from "./backend_options.ts";
 * const cpuOnly: GpuSetting = "off";
 * ```
 */
export type GpuSetting = "auto" | "off" | number;

/**
 * Options of `Backend.load` (backend.ts).
 *
 * @example
 * ```ts
 * import type { LoadOptions } from "./backend_options.ts";
 * const options: LoadOptions = { contextSize: 2048, threads: 1, gpu: "off", onStatus: (e) => console.log(e) };
 * ```
 */
export interface LoadOptions {
  /**
   * Tokens of context (`n_ctx`), shared out among the {@link sequences}. Default: the model's training
   * context, at most 4096, for each sequence.
   */
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
  /**
   * Check before loading that the model and its context fit in free memory
   * (and VRAM when offloading), rejecting with
   * `LodeError("INSUFFICIENT_MEMORY")` instead of swapping or crashing.
   * Default true; `lode run --no-memory-check` turns it off.
   */
  memoryCheck?: boolean;
  /**
   * Keep this process's threads on some CPUs while the model runs (Linux; see
   * cpu_affinity.ts): `"auto"` pins a one-thread CPU generation to the least
   * busy CPU, a list pins to those CPUs. Per process: for a process that runs
   * one model (a runner, `lode run`). Default `"off"`; lode's commands default
   * to `"auto"` (`--cpu-affinity`).
   */
  cpus?: CpuAffinity;
  /**
   * Sequences of the context that run at once (default 1): up to this many
   * `generate`/`chat` calls on the session decode together in one batch; calls
   * beyond it wait for a free sequence. The context's tokens are shared out
   * among them: each gets `contextSize / sequences` (`SessionInfo.contextSize`).
   */
  sequences?: number;
  /**
   * The file's own name when `path` does not end in it (a model in the store is served from its blob,
   * `…/data`), for a backend that tells its files by name (a backend plugin).
   */
  fileName?: string;
  /**
   * A Jinja chat template `Session.chat` renders with instead of the model's own (a stored model's
   * `chat_template` file: an OCI artifact's template layer, as Docker Model Runner uses it). It decides
   * `capabilities.tools` and `SessionInfo.hasChatTemplate` as the model's own would. One that does not
   * render fails the load with `MODEL_LOAD_FAILED` naming {@link chatTemplateName}.
   */
  chatTemplate?: string;
  /** What {@link chatTemplate} is called in errors (the stored file's name). */
  chatTemplateName?: string;
}

/**
 * Sampling and limits of one `Session.generate` or `Session.chat` call (backend.ts).
 *
 * @example
 * ```ts
 * import type { GenerateOptions } from "./backend_options.ts";
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
  /** Penalty for repeating recent tokens (1 = none, the default). */
  repeatPenalty?: number;
  /** Strings that end the generation when produced (not included in the text); `stopReason: "stop"`. */
  stop?: string[];
  /**
   * A JSON Schema the output must match (object, array, string, number,
   * integer, boolean, null, enum, const, properties/required, items; the
   * subset llama.cpp grammars support). The generated text then parses as
   * JSON that satisfies it. An unsupported schema rejects with
   * `LodeError("SCHEMA_INVALID")` before anything is generated.
   */
  jsonSchema?: Record<string, unknown>;
  /**
   * Tools (functions) the model may call, `Session.chat` only (`generate` refuses them with
   * `USAGE`). The model then answers with text or with calls: the result has `GenerateResult.toolCalls`
   * and `stopReason: "tool_calls"`. A session whose `capabilities.tools` is false refuses them with `USAGE`.
   * Not combined with {@link jsonSchema} (`USAGE`) unless `toolChoice` is `"none"`.
   */
  tools?: ToolDefinition[];
  /** Whether and which tool the model must call (default `"auto"`); see {@link ToolChoice}. */
  toolChoice?: ToolChoice;
  /** False: at most one call per answer. Default true: as many as the model makes (when its template can). */
  parallelToolCalls?: boolean;
  /**
   * Receives the tool calls of a chat answer while they are generated (the text chunks stream as usual):
   * a call's first delta has its `id` and `name`, the `arguments` of its deltas joined are its arguments.
   * The result's `GenerateResult.toolCalls` are the calls that completed. Must not block; errors it
   * throws are ignored.
   */
  onToolCallDelta?: (delta: ToolCallDelta) => void;
  /**
   * Stops the generation promptly. The stream then ends normally and the
   * result has `stopReason: "abort"` with the text produced so far.
   */
  signal?: AbortSignal;
}

/**
 * Options of `Session.embed` (backend.ts).
 *
 * @example
 * ```ts
 * import type { EmbedOptions } from "./backend_options.ts";
 * const options: EmbedOptions = { normalize: true };
 * ```
 */
export interface EmbedOptions {
  /** Scale every vector to length 1 (default true), so a dot product is the cosine similarity. */
  normalize?: boolean;
  /** Aborts; `embed` then rejects with `LodeError("INTERRUPTED")`. */
  signal?: AbortSignal;
}
