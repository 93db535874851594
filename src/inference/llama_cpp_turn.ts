/**
 * One generation of the node-llama-cpp backend, whatever drives it
 * (`LlamaCompletion` for `generate`, `LlamaChat` for `chat`): options checked
 * before anything runs, {@link GenerateOptions} mapped to node-llama-cpp's
 * sampling options (a JSON-schema grammar included), and timing, usage and
 * stop reason measured the same way for both.
 *
 * @example
 * ```ts
 * import { checkGenerateOptions, runTurn } from "./llama_cpp_turn.ts";
 * const checked = checkGenerateOptions({ maxTokens: 8, stop: ["\n"] });
 * const result = await runTurn({
 *   now: () => performance.now(),
 *   loadMs: 0,
 *   path: "m.gguf",
 *   promptTokens: 3,
 *   maxTokens: checked.options.maxTokens,
 *   signal: new AbortController().signal,
 *   emit: (chunk) => console.log(chunk),
 *   call: async ({ onToken, onTextChunk }) => {
 *     onToken([1]);
 *     onTextChunk("hi");
 *     return "eogToken";
 *   },
 * });
 * ```
 * @module
 */
import { StopScanner } from "./stop_scanner.ts";
import type * as NodeLlamaCpp from "node-llama-cpp";
import { isLodeError, LodeError } from "../errors.ts";
import type { GenerateOptions, GenerateResult, StopReason } from "./backend.ts";
import { checkGenerated, checkJsonSchema, type PreparedSchema } from "./json_schema.ts";
import { withRules } from "./json_schema_grammar.ts";

/**
 * {@link GenerateOptions} that passed {@link checkGenerateOptions}, with the
 * JSON schema read for its grammar and the check after generation.
 *
 * @example
 * ```ts
 * import type { CheckedOptions } from "./llama_cpp_turn.ts";
 * const hasSchema = (c: CheckedOptions) => c.jsonSchema !== undefined;
 * ```
 */
export interface CheckedOptions {
  options: GenerateOptions;
  jsonSchema: PreparedSchema | undefined;
}

/**
 * Checks sampling options, synchronously, so a bad call fails before it
 * queues: USAGE for out-of-range numbers or stop strings, SCHEMA_INVALID for
 * a schema grammars cannot enforce.
 *
 * @example
 * ```ts
 * import { checkGenerateOptions } from "./llama_cpp_turn.ts";
 * checkGenerateOptions({ temperature: 0.7, topK: 40, repeatPenalty: 1.1 });
 * ```
 */
export function checkGenerateOptions(options: GenerateOptions): CheckedOptions {
  const { maxTokens, temperature, topK, topP, repeatPenalty, seed, stop } = options;
  const bad = (field: string, value: unknown, wanted: string) =>
    new LodeError("USAGE", `${field} must be ${wanted}, got ${JSON.stringify(value)}`, {
      details: { [field]: String(value) },
    });
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && maxTokens > 0)) {
    throw bad("maxTokens", maxTokens, "a positive integer");
  }
  if (temperature !== undefined && !(temperature >= 0 && Number.isFinite(temperature))) {
    throw bad("temperature", temperature, "0 or more");
  }
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 0)) throw bad("topK", topK, "an integer ≥ 0");
  if (topP !== undefined && !(topP > 0 && topP <= 1)) throw bad("topP", topP, "in (0, 1]");
  if (repeatPenalty !== undefined && !(repeatPenalty > 0 && Number.isFinite(repeatPenalty))) {
    throw bad("repeatPenalty", repeatPenalty, "a positive number (1 = none)");
  }
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0)) throw bad("seed", seed, "an integer ≥ 0");
  if (stop !== undefined && !(Array.isArray(stop) && stop.every((s) => typeof s === "string" && s !== ""))) {
    throw bad("stop", stop, "a list of non-empty strings");
  }
  const jsonSchema = options.jsonSchema === undefined ? undefined : checkJsonSchema(options.jsonSchema);
  return { options, jsonSchema };
}

/**
 * The sampling options shared by `LlamaCompletion` and `LlamaChat`. A JSON
 * schema becomes a grammar here; node-llama-cpp refusing it is SCHEMA_INVALID.
 *
 * @example
 * ```ts
 * import { checkGenerateOptions, samplingOptions } from "./llama_cpp_turn.ts";
 * const lib = await import("node-llama-cpp");
 * const llama = await lib.getLlama({ gpu: false });
 * const sampling = await samplingOptions(llama, checkGenerateOptions({ jsonSchema: { type: "boolean" } }));
 * ```
 */
export async function samplingOptions(llama: NodeLlamaCpp.Llama, checked: CheckedOptions): Promise<{
  temperature: number;
  seed?: number;
  topK?: number;
  topP?: number;
  repeatPenalty: false | NodeLlamaCpp.LLamaContextualRepeatPenalty;
  grammar?: NodeLlamaCpp.LlamaGrammar;
}> {
  // Stop strings are matched on the text by runTurn (StopScanner), not handed to node-llama-cpp.
  const { temperature = 0, seed, topK, topP, repeatPenalty } = checked.options;
  let grammar: NodeLlamaCpp.LlamaGrammar | undefined;
  if (checked.jsonSchema !== undefined) {
    const { schema, rules, keyLength } = checked.jsonSchema.grammar;
    try {
      // deno-lint-ignore no-explicit-any -- grammarFor writes the shape GbnfJsonSchema describes
      const base = await llama.createGrammarForJsonSchema(schema as any);
      grammar = rules.size === 0 && keyLength === undefined ? base : await llama.createGrammar({
        grammar: withRules(base.grammar, rules, keyLength),
        stopGenerationTriggers: base.stopGenerationTriggers,
        trimWhitespaceSuffix: base.trimWhitespaceSuffix,
      });
    } catch (e) {
      throw new LodeError(
        "SCHEMA_INVALID",
        `the JSON schema cannot be turned into a grammar: ${message(e)}`,
        {
          details: { path: "/", reason: message(e) },
          cause: e,
        },
      );
    }
  }
  return {
    temperature,
    seed,
    topK,
    topP,
    repeatPenalty: repeatPenalty === undefined || repeatPenalty === 1 ? false : { penalty: repeatPenalty },
    grammar,
  };
}

/**
 * Checks a finished generation against its JSON schema, for what the grammar
 * cannot force: a generation that ended by itself (`eos`) and does not match
 * is `LodeError("SCHEMA_MISMATCH")`; one cut short is returned as it is.
 *
 * @example
 * ```ts
 * import { checkAfterGeneration, checkGenerateOptions } from "./llama_cpp_turn.ts";
 * const checked = checkGenerateOptions({ jsonSchema: { type: "string", pattern: "^a" } });
 * const usage = { promptTokens: 1, generatedTokens: 2, loadMs: 0, timeToFirstTokenMs: 1, totalMs: 2, tokensPerSecond: 1 };
 * checkAfterGeneration(checked, { text: '"abc"', stopReason: "eos", usage });
 * ```
 */
export function checkAfterGeneration(checked: CheckedOptions, result: GenerateResult): GenerateResult {
  if (checked.jsonSchema !== undefined && result.stopReason === "eos") {
    checkGenerated(checked.jsonSchema, result.text);
  }
  return result;
}

/**
 * node-llama-cpp's reason to stop, as a {@link StopReason}. A grammar that
 * completed or a template's end-of-turn marker ends the text like the
 * end-of-text token does (`eos`); a caller's stop string is `stop`.
 *
 * @example
 * ```ts
 * import { stopReasonOf } from "./llama_cpp_turn.ts";
 * stopReasonOf("customStopTrigger", { maxTokens: 10, generated: 3 }); // "stop"
 * ```
 */
export function stopReasonOf(
  reason: string,
  { maxTokens, generated }: { maxTokens: number | undefined; generated: number },
): StopReason {
  switch (reason) {
    case "eogToken":
    case "stopGenerationTrigger":
    case "functionCalls":
      return "eos";
    case "customStopTrigger":
      return "stop";
    case "maxTokens":
      return maxTokens !== undefined && generated >= maxTokens ? "max_tokens" : "context_full";
    default:
      return "abort";
  }
}

/** What {@link runTurn} runs and how it reports. */
export interface TurnSpec {
  now: () => number;
  loadMs: number;
  /** The model file, for error details. */
  path: string;
  /** Prompt tokens (for usage), counted before the call. */
  promptTokens: number;
  /** The caller's `maxTokens`: reaching it is `max_tokens`, stopping short of it at a full context `context_full`. */
  maxTokens: number | undefined;
  signal: AbortSignal;
  /**
   * Tokens the runtime has sampled so far on this sequence (a counter). node-llama-cpp reports tokens to
   * `onToken` only once their text is complete, so tokens of an unfinished UTF-8 sequence at the end are
   * never reported; the counter has them all.
   */
  sampledTokens?: () => number;
  /** The caller's stop strings, matched on the generated text. */
  stop?: readonly string[];
  emit: (chunk: string) => void;
  /**
   * Runs the generation with these hooks (pass `signal` on: it also fires when a stop string appears);
   * resolves with node-llama-cpp's stop reason.
   */
  call: (
    hooks: {
      onToken: (tokens: readonly number[]) => void;
      onTextChunk: (text: string) => void;
      signal: AbortSignal;
    },
  ) => Promise<string>;
}

/**
 * Runs one generation, measuring it: the summary has the text, stop reason
 * and {@link GenerateResult.usage}. An abort (before or during) ends it with
 * `stopReason: "abort"`; other failures reject with INFERENCE_FAILED (a
 * LodeError thrown by `call`, e.g. SCHEMA_INVALID, passes through).
 *
 * @example
 * ```ts
 * import type { TurnSpec } from "./llama_cpp_turn.ts";
 * import { runTurn } from "./llama_cpp_turn.ts";
 * const once = (spec: TurnSpec) => runTurn(spec).then((r) => r.text);
 * ```
 */
export async function runTurn(spec: TurnSpec): Promise<GenerateResult> {
  const { now, signal } = spec;
  const start = now();
  let first: number | null = null;
  let reported = 0; // tokens node-llama-cpp reported to onToken
  let text = "";
  const meter = spec.sampledTokens;
  const meterBase = meter?.() ?? 0;
  // Tokens generated so far: the meter's count when there is one (capped: it may count one token sampled
  // past maxTokens, never returned).
  const generatedTokens = () =>
    meter === undefined
      ? reported
      : Math.max(reported, Math.min(meter() - meterBase, spec.maxTokens ?? Infinity));
  const finish = (stopReason: StopReason): GenerateResult => {
    const end = now();
    const generated = generatedTokens();
    const decodeMs = first === null ? 0 : end - first;
    const tokensPerSecond = generated >= 2 && decodeMs > 0
      ? (generated - 1) / (decodeMs / 1000)
      : end > start
      ? generated / ((end - start) / 1000)
      : 0;
    const usage = {
      promptTokens: spec.promptTokens,
      generatedTokens: generated,
      loadMs: spec.loadMs,
      timeToFirstTokenMs: first === null ? null : first - start,
      totalMs: end - start,
      tokensPerSecond,
    };
    return { text, stopReason, usage };
  };
  if (signal.aborted) return finish("abort");
  const scanner = new StopScanner(spec.stop ?? []);
  const stopped = new AbortController();
  const release = (chunk: string) => {
    if (chunk === "") return;
    text += chunk;
    spec.emit(chunk);
  };
  try {
    const reason = await spec.call({
      onToken: (tokens) => {
        first ??= now();
        reported += tokens.length;
      },
      onTextChunk: (chunk) => {
        const step = scanner.push(chunk);
        release(step.text);
        if (step.stopped) stopped.abort();
      },
      signal: AbortSignal.any([signal, stopped.signal]),
    });
    if (scanner.stopped) return finish("stop");
    release(scanner.flush());
    return finish(stopReasonOf(reason, { maxTokens: spec.maxTokens, generated: generatedTokens() }));
  } catch (e) {
    if (scanner.stopped && !signal.aborted) return finish("stop");
    release(scanner.flush());
    if (signal.aborted) return finish("abort");
    if (isLodeError(e)) throw e;
    throw new LodeError("INFERENCE_FAILED", `generation failed: ${message(e)}`, {
      details: { path: spec.path, generated_tokens: generatedTokens() },
      cause: e,
    });
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
