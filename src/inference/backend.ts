/**
 * The inference backend contract: what `lode run`, the daemon and plugins
 * program against. A {@link Backend} loads a model file into a
 * {@link Session}; a session streams text for a prompt as a
 * {@link Generation} and reports a {@link GenerateResult} (text, stop reason,
 * {@link Usage}) when it ends. The options of those calls are in
 * backend_options.ts (re-exported here).
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
 *     const answer = session.chat([{ role: "user", content: "Hi!" }], { maxTokens: 40 });
 *     console.log((await answer.result).text);
 *   } finally {
 *     await session.close();
 *   }
 * }
 * ```
 * @module
 */
import type { Capabilities, StatusEvent } from "../events/status_event.ts";
import type { StopReason, Usage } from "../events/inference_event.ts";
import type { ToolCall, ToolCallDelta, ToolChoice, ToolDefinition } from "./backend_tools.ts";
import type { EmbedOptions, GenerateOptions, GpuSetting, LoadOptions } from "./backend_options.ts";

/**
 * Why a generation ended ({@link GenerateResult.stopReason}): `eos`, `stop`, `max_tokens`, `context_full`
 * or `abort`; and the counters and timings of one ({@link GenerateResult.usage}). Declared once, with the
 * events `lode run --json` prints them in (src/events/inference_event.ts).
 */
export type { Capabilities, StatusEvent, StopReason, Usage };

/** Tools a chat may call, and the calls (backend_tools.ts). */
export type { ToolCall, ToolCallDelta, ToolChoice, ToolDefinition };

/** The options of loading, generating and embedding (backend_options.ts). */
export type { EmbedOptions, GenerateOptions, GpuSetting, LoadOptions };

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
  /** All the text generated (the concatenation of the streamed chunks); a tool call's text is not in it. */
  text: string;
  stopReason: StopReason;
  usage: Usage;
  /** The tools the answer calls, in order (with `stopReason: "tool_calls"`); absent when it calls none. */
  toolCalls?: ToolCall[];
}

/**
 * A running generation: iterate it (once) for text chunks as they are
 * produced — or read them in {@link batches} — and await `result` for the
 * summary. It starts as soon as `generate` is called; leaving the loop early
 * (`break`) aborts it. A failure rejects both the iteration and `result` with
 * `LodeError("INFERENCE_FAILED")`. `createGeneration` (generation.ts) makes
 * one from a callback.
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
  /**
   * The chunks in batches, instead of one by one: each batch is every chunk produced and not yet read (at
   * least one), in order, each chunk whole. A consumer that forwards chunks handles a burst at once (the
   * daemon writes the `token` frames of a runner's message with one write). Read either the batches or
   * the generation itself, once; leaving the loop early aborts the generation.
   */
  batches(): AsyncIterable<string[]>;
}

/**
 * One message of a conversation given to {@link Session.chat}.
 *
 * @example
 * ```ts
 * import type { ChatMessage } from "./backend.ts";
 * const history: ChatMessage[] = [
 *   { role: "system", content: "Answer briefly." },
 *   { role: "user", content: "What is a GGUF file?" },
 * ];
 * const toolTurn: ChatMessage[] = [
 *   { role: "user", content: "Weather in Paris?" },
 *   { role: "assistant", content: "", toolCalls: [{ id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' }] },
 *   { role: "tool", toolCallId: "call_1", content: '{"celsius":21}' },
 * ];
 * ```
 */
export interface ChatMessage {
  /** `tool`: the result of a tool call, answering the assistant message before it that made the call. */
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  /** The calls an assistant message made (the model's earlier answer); `assistant` only. */
  toolCalls?: ToolCall[];
  /** The id of the call a `tool` message answers (one of the preceding assistant message's `toolCalls`). */
  toolCallId?: string;
}

/**
 * What {@link Backend.probe} found out about a file without loading it.
 *
 * @example
 * ```ts
 * import type { ProbeResult } from "./backend.ts";
 * const say = (p: ProbeResult) => p.ok ? `runs ${p.architecture}` : `cannot run: ${p.reason}`;
 * ```
 */
export type ProbeResult =
  | { ok: true; format: string; architecture: string }
  | { ok: false; reason: string };

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
  /**
   * True when the GGUF carries a chat template. `lode run` then answers
   * through {@link Session.chat}; without one it continues the prompt.
   */
  hasChatTemplate: boolean;
  /** Length of the vectors {@link Session.embed} returns (GGUF `<arch>.embedding_length`). */
  embeddingSize: number;
  /** Milliseconds `load` took, runtime start-up included. */
  loadMs: number;
  /** The CPUs the process was pinned to for this model (see {@link LoadOptions.cpus}); absent when not pinned. */
  cpus?: number[];
}

/**
 * What a {@link Session} can do exactly, as flags ({@link Session.features}); a session without them can
 * do everything (the llama.cpp backend). A backend that fronts another server through an API that cannot
 * give, say, the model's token ids reports that flag false, and the method rejects with
 * `LodeError("INFERENCE_FAILED")` naming what is missing, instead of approximating; the conformance suite
 * skips the checks a false flag rules out.
 *
 * @example
 * ```ts
 * import type { SessionFeatures } from "./backend.ts";
 * const remote: SessionFeatures = { tokenize: false, renderChat: false, rawEmbeddings: false, loadOptions: false };
 * ```
 */
export interface SessionFeatures {
  /**
   * {@link Session.tokenize} and {@link Session.detokenize} give the model's own token ids. Without them
   * a session cannot count a prompt's tokens either: a prompt that does not fit is refused by what the
   * session fronts (still `CONTEXT_LENGTH_EXCEEDED`), in that one's order, not before earlier generations.
   */
  tokenize: boolean;
  /** {@link Session.renderChat} gives the exact text {@link Session.chat} feeds the model. */
  renderChat: boolean;
  /** {@link Session.embed} with `normalize: false` gives the raw vectors. */
  rawEmbeddings: boolean;
  /**
   * {@link Backend.load} honours {@link LoadOptions} (context size, threads, accelerator, memory check)
   * and reports the load's phases (`loading_model` `mmap`, then `kv_cache`) before `capabilities`.
   */
  loadOptions: boolean;
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
  /** What it can do exactly; absent: everything. */
  readonly features?: SessionFeatures;
  /**
   * Streams a continuation of `prompt` (plain text completion, no template).
   * A prompt that leaves no room in the context for a generated token
   * (context_limit.ts: its tokens, BOS included, ≥ `info.contextSize`) is
   * refused with `LodeError("CONTEXT_LENGTH_EXCEEDED")` at once, before
   * anything is evaluated or waits for earlier generations; a prompt that
   * fits is never cut.
   */
  generate(prompt: string, options?: GenerateOptions): Generation;
  /**
   * Streams the assistant's answer to `messages` (the last one is normally
   * the user's), rendered through the model's own chat template. A model
   * without a template is rendered with a plain "role: content" layout.
   * Each call is independent: pass the whole history every time. A
   * conversation that does not fit (counted as rendered) is refused with
   * `CONTEXT_LENGTH_EXCEEDED` as {@link generate}'s prompt is; messages are
   * never dropped to make it fit.
   */
  chat(messages: ChatMessage[], options?: GenerateOptions): Generation;
  /**
   * The exact text {@link chat} feeds the model for `messages`, with the
   * assistant's turn opened (for inspection, tests and `--verbose`).
   */
  renderChat(messages: ChatMessage[]): Promise<string>;
  /**
   * One vector of {@link SessionInfo.embeddingSize} numbers per input text, in order. A text of as many
   * tokens as the context or more is refused with `CONTEXT_LENGTH_EXCEEDED` (naming its `index`) before
   * any is embedded.
   */
  embed(texts: string[], options?: EmbedOptions): Promise<number[][]>;
  /** The model's token ids for `text` (no BOS added). */
  tokenize(text: string): Promise<number[]>;
  /** The text of token ids (the inverse of {@link tokenize}). */
  detokenize(tokens: number[]): Promise<string>;
  /** Aborts running generations and frees the context and the model. Idempotent. */
  close(): Promise<void>;
}

/**
 * A model's tokenizer alone ({@link Backend.loadVocabulary}): the same ids and
 * text as {@link Session.tokenize} / {@link Session.detokenize} of that model,
 * answered at once (no model to wait for: a vocabulary is only a table).
 *
 * @example
 * ```ts
 * import type { Vocabulary } from "./backend.ts";
 * const count = (v: Vocabulary, text: string) => v.tokenize(text).length;
 * ```
 */
export interface Vocabulary {
  /** The token ids of `text` (no BOS added), as {@link Session.tokenize}; throws what it would reject with. */
  tokenize(text: string): number[];
  /** The text of token ids, as {@link Session.detokenize}; throws what it would reject with. */
  detokenize(tokens: number[]): string;
  /** Frees the vocabulary. Idempotent. */
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
   * Whether this backend can run the file at `path`, from its header alone
   * (cheap: no runtime is started, nothing big is read). Never rejects for a
   * file that is not a model; `{ ok: false, reason }` says why instead.
   * `file.fileName` is the file's own name when `path` does not end in it.
   */
  probe(path: string, file?: { fileName?: string }): Promise<ProbeResult>;
  /**
   * Loads the model at `path`. Rejects with `LodeError("FILE_NOT_FOUND")`
   * when there is no file at `path` (or at a shard beside it), with
   * `LodeError("MODEL_LOAD_FAILED")` when the file is not a model this backend
   * can run, and with `LodeError("INTERRUPTED")` when `options.signal` aborts it.
   */
  load(path: string, options?: LoadOptions): Promise<Session>;
  /**
   * Optional: opens only the vocabulary of the model at `path` (no weights,
   * no context), to tokenize as a {@link Session} of it does at a fraction
   * of the cost. Rejects with `LodeError("FILE_NOT_FOUND")` and
   * `LodeError("MODEL_LOAD_FAILED")` like `load`.
   */
  loadVocabulary?(path: string): Promise<Vocabulary>;
  /** Closes every open session and vocabulary and releases the runtime. Idempotent. */
  close(): Promise<void>;
}
