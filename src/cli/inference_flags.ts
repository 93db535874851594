/**
 * The flags `lode run`, `lode chat` and `lode embed` share, as option specs
 * (help is generated from them) and as parsers that turn the raw strings into
 * the backend's {@link LoadOptions} and {@link GenerateOptions}, rejecting bad
 * values with a `USAGE` error that names the flag and what it accepts.
 *
 * Loaded by `src/cli/program.ts` for every command, so it imports only types
 * and the tiny thread default — never the backend.
 *
 * @example
 * ```ts
 * import { parseGenerateFlags, parseLoadFlags } from "./inference_flags.ts";
 * const load = parseLoadFlags({ ctxSize: "2048", gpu: "off" });
 * const { options, warnings } = await parseGenerateFlags({ temperature: "0", maxTokens: "40" });
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { defaultThreads } from "../inference/default_threads.ts";
import type { GenerateOptions, GpuSetting, LoadOptions } from "../inference/backend.ts";
import { type CpuAffinity, parseCpuList } from "../inference/cpu_affinity.ts";
import { camel, type OptionSpec, type OptionValues } from "./args.ts";

/**
 * How the model is loaded: `--ctx-size`, `--gpu`, `--threads`, `--no-memory-check`, `--cpu-affinity`.
 *
 * @example
 * ```ts
 * import { LOAD_OPTIONS } from "./inference_flags.ts";
 * LOAD_OPTIONS.map((o) => o.name); // ["ctx-size", "gpu", "threads", "memory-check", "cpu-affinity"]
 * ```
 */
export const LOAD_OPTIONS: OptionSpec[] = [
  {
    name: "ctx-size",
    short: "c",
    type: "string",
    value: "<n>",
    description: "context size in tokens (default: the model's, at most 4096)",
  },
  {
    name: "gpu",
    type: "string",
    value: "<auto|off|n>",
    // No spec default: an explicit --gpu must be told apart (a daemon's settings apply instead).
    description:
      "offload to the GPU: auto (all that fits; the default), off (CPU only) or a number of layers",
  },
  {
    name: "threads",
    type: "string",
    value: "<n>",
    description: `CPU threads (default: cores minus one, 1 to 4; here ${defaultThreads()})`,
  },
  {
    name: "memory-check",
    type: "boolean",
    negatable: true,
    description: "load even when the model and its context do not seem to fit in free memory",
  },
  {
    name: "cpu-affinity",
    type: "string",
    value: "<auto|off|list>",
    description:
      "keep a 1-thread CPU model on one CPU (Linux): auto (default), off, or CPUs such as 1 or 0-3",
  },
];

/**
 * The load flags given on the command line (`--ctx-size`, `--threads`,
 * `--gpu`, `--no-memory-check`), as typed: a running daemon ignores them
 * (its own load settings apply), and the CLI says so.
 *
 * @example
 * ```ts
 * import { explicitLoadFlags } from "./inference_flags.ts";
 * explicitLoadFlags({ ctxSize: "512", threads: undefined }); // ["--ctx-size"]
 * ```
 */
export function explicitLoadFlags(values: OptionValues): string[] {
  return LOAD_OPTIONS.flatMap((o) => {
    const value = values[camel(o.name)];
    if (o.type === "boolean") return value === false ? [`--no-${o.name}`] : [];
    return value === undefined ? [] : [`--${o.name}`];
  });
}

/**
 * Sampling and limits of generated text: `--max-tokens`, `--temperature`,
 * `--seed`, `--top-k`, `--top-p`, `--repeat-penalty`, `--stop`, `--json-schema`.
 *
 * @example
 * ```ts
 * import { SAMPLING_OPTIONS } from "./inference_flags.ts";
 * SAMPLING_OPTIONS.some((o) => o.name === "stop"); // true
 * ```
 */
export const SAMPLING_OPTIONS: OptionSpec[] = [
  {
    name: "max-tokens",
    short: "n",
    type: "string",
    value: "<n>",
    default: "256",
    description: "stop after this many generated tokens",
  },
  {
    name: "temperature",
    short: "t",
    type: "string",
    value: "<t>",
    default: "0.8",
    description: "sampling temperature; 0 is greedy and deterministic",
  },
  { name: "seed", type: "string", value: "<n>", description: "sampler seed, for repeatable output" },
  {
    name: "top-k",
    type: "string",
    value: "<k>",
    description: "sample from the k most likely tokens only (0: all); needs temperature > 0",
  },
  {
    name: "top-p",
    type: "string",
    value: "<p>",
    description: "sample from the tokens whose probabilities add up to p (0 to 1); needs temperature > 0",
  },
  {
    name: "repeat-penalty",
    type: "string",
    value: "<x>",
    description: "penalise recently generated tokens (1: off, 1.1: mild)",
  },
  {
    name: "stop",
    type: "list",
    split: false,
    value: "<text>",
    description: "stop when this text is generated (not printed); repeatable; \\n and \\t are escapes",
  },
  {
    name: "json-schema",
    type: "string",
    value: "<file>",
    description: "constrain the output to JSON matching this JSON Schema file",
  },
];

/**
 * The backend's load options from the flags: `threads` always set (the
 * default never oversubscribes the machine).
 *
 * @param values Parsed option values (camelCase keys).
 * @param cpus Logical CPUs, for the thread default (default: this machine's).
 * @returns The options for `Backend.load`, without `signal` and `onStatus`.
 *
 * @example
 * ```ts
 * import { parseLoadFlags } from "./inference_flags.ts";
 * parseLoadFlags({ gpu: "off", threads: "2", memoryCheck: false });
 * // { gpu: "off", threads: 2, memoryCheck: false, cpus: "auto" }
 * ```
 */
export function parseLoadFlags(values: OptionValues, cpus?: number): LoadOptions {
  const options: LoadOptions = {
    threads: integerFlag("--threads", values.threads, 1) ?? defaultThreads(cpus),
    gpu: gpuFlag(values.gpu),
  };
  const contextSize = integerFlag("--ctx-size", values.ctxSize, 1);
  if (contextSize !== undefined) options.contextSize = contextSize;
  if (values.memoryCheck === false) options.memoryCheck = false;
  options.cpus = cpuAffinityFlag(values.cpuAffinity);
  return options;
}

function cpuAffinityFlag(value: OptionValues[string]): CpuAffinity {
  if (value === undefined || value === "auto") return "auto";
  if (value === "off") return "off";
  if (typeof value === "string") {
    try {
      return parseCpuList(value);
    } catch { /* told below */ }
  }
  throw usage(`--cpu-affinity must be auto, off or a CPU list such as 1 or 0-3, got "${value}"`);
}

/**
 * Effects of {@link parseGenerateFlags}.
 *
 * @example
 * ```ts
 * import type { GenerateFlagsOptions } from "./inference_flags.ts";
 * const effects: GenerateFlagsOptions = { readTextFile: () => Promise.resolve('{"type":"string"}') };
 * ```
 */
export interface GenerateFlagsOptions {
  /** Reads the `--json-schema` file (default `Deno.readTextFile`). */
  readTextFile?: (path: string) => Promise<string>;
}

/**
 * What {@link parseGenerateFlags} found: the options and notes about flags that have no effect.
 *
 * @example
 * ```ts
 * import type { ParsedGenerateFlags } from "./inference_flags.ts";
 * const show = (p: ParsedGenerateFlags) => p.warnings.forEach((w) => console.error(`warning: ${w}`));
 * ```
 */
export interface ParsedGenerateFlags {
  options: GenerateOptions;
  /** Sentences for stderr, e.g. "--top-k has no effect at --temperature 0". */
  warnings: string[];
}

/**
 * The generation options from the flags; reads and parses `--json-schema`.
 * A missing or unreadable schema file, bad JSON or a schema that is not an
 * object rejects with `LodeError("SCHEMA_INVALID")` naming the path.
 *
 * @param values Parsed option values (camelCase keys).
 * @param effects Injected file reader.
 * @returns The options for `Session.generate` / `chat` (without `signal`) and warnings.
 *
 * @example
 * ```ts
 * import { parseGenerateFlags } from "./inference_flags.ts";
 * const { options } = await parseGenerateFlags({ temperature: "0", stop: ["\\n"] });
 * options.stop; // ["\n"]
 * ```
 */
export async function parseGenerateFlags(
  values: OptionValues,
  effects: GenerateFlagsOptions = {},
): Promise<ParsedGenerateFlags> {
  const options: GenerateOptions = {};
  const set = <K extends keyof GenerateOptions>(key: K, value: GenerateOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set("maxTokens", integerFlag("--max-tokens", values.maxTokens, 1));
  set("temperature", numberFlag("--temperature", values.temperature, { min: 0, max: 100 }));
  set("seed", integerFlag("--seed", values.seed, 0, 0xffff_ffff));
  set("topK", integerFlag("--top-k", values.topK, 0));
  set("topP", numberFlag("--top-p", values.topP, { min: 0, max: 1 }));
  set("repeatPenalty", numberFlag("--repeat-penalty", values.repeatPenalty, { min: 0, max: 100 }));
  if (options.repeatPenalty === 0) throw usage("--repeat-penalty must be more than 0 (1 turns it off)");
  const stop = values.stop as string[] | undefined;
  if (stop !== undefined && stop.length > 0) {
    options.stop = stop.map((s) => {
      const text = unescapeStop(s);
      if (text === "") throw usage("--stop needs a non-empty text");
      return text;
    });
  }
  const schemaPath = values.jsonSchema;
  if (typeof schemaPath === "string") {
    options.jsonSchema = await readJsonSchema(schemaPath, effects.readTextFile ?? Deno.readTextFile);
  }
  const warnings: string[] = [];
  if (options.temperature === 0) {
    for (const [flag, value] of [["--top-k", options.topK], ["--top-p", options.topP]] as const) {
      if (value !== undefined) warnings.push(`${flag} has no effect at --temperature 0 (greedy decoding)`);
    }
  }
  return { options, warnings };
}

/**
 * `--stop` text with `\n`, `\r`, `\t` and `\\` escapes resolved, so a newline
 * can be given without shell quoting tricks.
 *
 * @example
 * ```ts
 * import { unescapeStop } from "./inference_flags.ts";
 * unescapeStop("\\nUser:"); // "\nUser:"
 * ```
 */
export function unescapeStop(text: string): string {
  const map: Record<string, string> = { n: "\n", r: "\r", t: "\t", "\\": "\\" };
  return text.replace(/\\([nrt\\])/g, (_, c: string) => map[c]!);
}

async function readJsonSchema(
  path: string,
  readTextFile: (path: string) => Promise<string>,
): Promise<Record<string, unknown>> {
  const invalid = (why: string, cause?: unknown) =>
    new LodeError("SCHEMA_INVALID", `--json-schema ${path}: ${why}`, { details: { path }, cause });
  let text: string;
  try {
    text = await readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new LodeError("FILE_NOT_FOUND", `--json-schema ${path}: no such file`, {
        details: { path },
        cause: e,
      });
    }
    throw invalid(`cannot read it (${message(e)})`, e);
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (e) {
    throw invalid(`not valid JSON (${message(e)})`, e);
  }
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    throw invalid('a JSON Schema must be a JSON object, like {"type": "object", "properties": {…}}');
  }
  return schema as Record<string, unknown>;
}

function gpuFlag(value: OptionValues[string]): GpuSetting {
  if (value === undefined) return "auto";
  const text = String(value).trim().toLowerCase();
  if (text === "auto" || text === "off") return text;
  if (/^\d+$/.test(text)) return Number(text);
  throw usage(`--gpu must be auto, off or a number of layers, got "${value}"`);
}

function integerFlag(
  flag: string,
  value: OptionValues[string],
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const n = /^[+]?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw usage(`${flag} must be a whole number ${range}, got "${value}"`);
  }
  return n;
}

function numberFlag(
  flag: string,
  value: OptionValues[string],
  range: { min: number; max: number },
): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const n = text === "" ? NaN : Number(text);
  if (!Number.isFinite(n) || n < range.min || n > range.max) {
    throw usage(`${flag} must be a number from ${range.min} to ${range.max}, got "${value}"`);
  }
  return n;
}

function usage(text: string): LodeError {
  return new LodeError("USAGE", text);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
