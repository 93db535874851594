/**
 * `deno task bench-inference`: the overhead of `lode run` over node-llama-cpp called directly, on a
 * generated ~100M-parameter llama model (cached in a temp directory), in one run. Each round runs, in
 * alternating order, (a) `lode run file:M PROMPT --json --temperature 0 --seed 1 --max-tokens 128
 * --threads T --ctx-size C --no-memory-check`, reading its `done` event's usage, and (b)
 * `scripts/bench_llama_direct.ts` with the same settings in its own deno process. Both sides measure
 * the same way: time to first token from the start of the generate call (after load), decode speed as
 * tokens after the first over the time since the first. Medians are compared: tokens/s overhead
 * (target ≤ 2%) and time-to-first-token delta (target ≤ 50 ms), also as the median of per-round pairs
 * (steadier on a shared machine). Greedy decoding makes both sides produce the same text, which is checked.
 *
 * ```sh
 * deno task bench-inference [--runs 5] [--params 100M] [--tensor-type f16] [--threads N]
 *   [--max-tokens 128] [--ctx-size 2048] [--model FILE] [--out FILE.json] [--smoke] [--cpu-affinity off|auto]
 * ```
 * lode runs with `--cpu-affinity off` unless told otherwise: the direct side does not pin its threads.
 * `--smoke` runs one round on tests/fixtures/stories260K.gguf with 16 tokens (for the test).
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { median } from "./bench_report.ts";
import type { DirectResult } from "./bench_llama_direct.ts";
import { parseCount, type TensorType, writeGgufModel } from "./gen_gguf.ts";
import { defaultThreads } from "../src/inference/default_threads.ts";

const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));
const DIRECT_TS = fileURLToPath(new URL("./bench_llama_direct.ts", import.meta.url));
const STORIES = fileURLToPath(new URL("../tests/fixtures/stories260K.gguf", import.meta.url));
/** A prompt of a few dozen tokens, so the time to first token includes real prompt processing. */
export const PROMPT =
  "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.";

/**
 * Settings of one benchmark.
 *
 * @example
 * ```ts
 * const o: BenchOptions = { model: "m.gguf", runs: 5, maxTokens: 128, threads: 1, contextSize: 2048, prompt: PROMPT, warmup: 1 };
 * ```
 */
export interface BenchOptions {
  model: string;
  runs: number;
  maxTokens: number;
  threads: number;
  /**
   * lode's `--cpu-affinity` (default `off`: node-llama-cpp called directly does not pin, so the overhead
   * is measured like for like; `auto` shows what pinning adds on top).
   */
  cpuAffinity?: string;
  contextSize: number;
  prompt: string;
  /** Untimed rounds first (page cache, JIT). */
  warmup: number;
}

/**
 * One side's measurements of one round.
 *
 * @example
 * ```ts
 * const fast = (s: Sample) => s.tokensPerSecond > 50;
 * ```
 */
export type Sample = Omit<DirectResult, "text"> & { text: string; wallMs: number };

/**
 * Medians of one side.
 *
 * @example
 * ```ts
 * const line = (s: SideSummary) => `${s.tokensPerSecond.toFixed(1)} tok/s`;
 * ```
 */
export interface SideSummary {
  runs: number;
  tokensPerSecond: number;
  timeToFirstTokenMs: number;
  loadMs: number;
  wallMs: number;
  promptTokens: number;
  generatedTokens: number;
  /** The fastest round (the least disturbed on a shared machine). */
  bestTokensPerSecond: number;
  /** The quickest first token of any round. */
  bestTimeToFirstTokenMs: number;
}

/**
 * The comparison.
 *
 * @example
 * ```ts
 * const ok = (r: BenchReport) => r.tokensPerSecondOverheadPct <= 2 && r.timeToFirstTokenDeltaMs <= 50;
 * ```
 */
export interface BenchReport {
  options: BenchOptions;
  lode: SideSummary;
  direct: SideSummary;
  /** 1 - lode/direct of the median tokens/s, in percent (positive: lode is slower). */
  tokensPerSecondOverheadPct: number;
  /** lode minus direct median time to first token, ms. */
  timeToFirstTokenDeltaMs: number;
  /**
   * The same two figures from the rounds' pairs (each lode run against the direct run next to it, then
   * the median): steadier when the machine's load drifts during the benchmark.
   */
  paired: { tokensPerSecondOverheadPct: number; timeToFirstTokenDeltaMs: number };
  /** Both sides generated the same text in every round. */
  sameText: boolean;
  samples: { lode: Sample[]; direct: Sample[] };
}

async function runJson(
  args: string[],
  env: Record<string, string>,
): Promise<{ stdout: string; wallMs: number }> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const wallMs = performance.now() - t0;
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  if (!out.success) throw new Error(`deno ${args.slice(0, 4).join(" ")}… failed: ${decode(out.stderr)}`);
  return { stdout: decode(out.stdout), wallMs };
}

/** Runs `lode run … --json` once and reads the `done` event. */
async function lodeOnce(o: BenchOptions, env: Record<string, string>): Promise<Sample> {
  const { stdout, wallMs } = await runJson([
    "run",
    "-A",
    MAIN_TS,
    "run",
    `file:${o.model}`,
    o.prompt,
    "--json",
    "--temperature",
    "0",
    "--seed",
    "1",
    "--max-tokens",
    String(o.maxTokens),
    "--threads",
    String(o.threads),
    "--ctx-size",
    String(o.contextSize),
    "--no-memory-check",
    "--cpu-affinity",
    o.cpuAffinity ?? "off",
  ], env);
  const events = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  const done = events.find((e) => e.event === "done");
  if (done === undefined) throw new Error(`lode run printed no done event:\n${stdout}`);
  const text = events.filter((e) => e.event === "token").map((e) => e.text).join("");
  return { ...done.usage, text, wallMs };
}

async function directOnce(o: BenchOptions, env: Record<string, string>): Promise<Sample> {
  const { stdout, wallMs } = await runJson([
    "run",
    "-A",
    DIRECT_TS,
    "--model",
    o.model,
    "--prompt",
    o.prompt,
    "--max-tokens",
    String(o.maxTokens),
    "--threads",
    String(o.threads),
    "--ctx-size",
    String(o.contextSize),
    "--seed",
    "1",
  ], env);
  return { ...(JSON.parse(stdout.trim().split("\n").at(-1)!) as DirectResult), wallMs };
}

/**
 * Medians of one side's samples.
 *
 * @example
 * ```ts
 * summariseSide([{ tokensPerSecond: 10, timeToFirstTokenMs: 5, loadMs: 1, wallMs: 9, promptTokens: 3,
 *   generatedTokens: 8, totalMs: 1, text: "" }]).tokensPerSecond; // 10
 * ```
 */
export function summariseSide(samples: Sample[]): SideSummary {
  const m = (f: (s: Sample) => number) => median(samples.map(f));
  return {
    runs: samples.length,
    tokensPerSecond: m((s) => s.tokensPerSecond),
    timeToFirstTokenMs: m((s) => s.timeToFirstTokenMs ?? NaN),
    loadMs: m((s) => s.loadMs),
    wallMs: m((s) => s.wallMs),
    promptTokens: m((s) => s.promptTokens),
    generatedTokens: m((s) => s.generatedTokens),
    bestTokensPerSecond: Math.max(...samples.map((s) => s.tokensPerSecond)),
    bestTimeToFirstTokenMs: Math.min(...samples.map((s) => s.timeToFirstTokenMs ?? Infinity)),
  };
}

/**
 * The report from both sides' samples.
 *
 * @example
 * ```ts
 * const report = compare(options, lodeSamples, directSamples);
 * console.log(report.tokensPerSecondOverheadPct);
 * ```
 */
export function compare(options: BenchOptions, lode: Sample[], direct: Sample[]): BenchReport {
  const l = summariseSide(lode);
  const d = summariseSide(direct);
  return {
    options,
    lode: l,
    direct: d,
    tokensPerSecondOverheadPct: (1 - l.tokensPerSecond / d.tokensPerSecond) * 100,
    timeToFirstTokenDeltaMs: l.timeToFirstTokenMs - d.timeToFirstTokenMs,
    paired: {
      tokensPerSecondOverheadPct: median(
        lode.map((s, i) => (1 - s.tokensPerSecond / direct[i]!.tokensPerSecond) * 100),
      ),
      timeToFirstTokenDeltaMs: median(
        lode.map((s, i) => (s.timeToFirstTokenMs ?? NaN) - (direct[i]!.timeToFirstTokenMs ?? NaN)),
      ),
    },
    sameText: lode.every((s, i) => s.text === direct[i]?.text),
    samples: { lode, direct },
  };
}

/**
 * Runs the benchmark: warm-up rounds, then `runs` rounds alternating which side goes first.
 *
 * @example
 * ```ts
 * const report = await benchInference({ model: "m.gguf", runs: 3, maxTokens: 128, threads: 1,
 *   contextSize: 2048, prompt: PROMPT, warmup: 1 });
 * ```
 */
export async function benchInference(options: BenchOptions, log = (_: string) => {}): Promise<BenchReport> {
  const store = await Deno.makeTempDir({ prefix: "lode-bench-inference-store-" });
  const env = { ...Deno.env.toObject(), NO_COLOR: "1", MODELS_HOME: store, XDG_CONFIG_HOME: `${store}/.cfg` };
  try {
    for (let i = 0; i < options.warmup; i++) {
      log(`warm-up ${i + 1}/${options.warmup}`);
      await lodeOnce(options, env);
      await directOnce(options, env);
    }
    const lode: Sample[] = [];
    const direct: Sample[] = [];
    for (let i = 0; i < options.runs; i++) {
      if (i % 2 === 0) {
        lode.push(await lodeOnce(options, env));
        direct.push(await directOnce(options, env));
      } else {
        direct.push(await directOnce(options, env));
        lode.push(await lodeOnce(options, env));
      }
      const [a, b] = [lode.at(-1)!, direct.at(-1)!];
      log(
        `round ${i + 1}/${options.runs}: lode ${a.tokensPerSecond.toFixed(1)} tok/s, ttft ${
          a.timeToFirstTokenMs?.toFixed(1)
        } ms | direct ${b.tokensPerSecond.toFixed(1)} tok/s, ttft ${b.timeToFirstTokenMs?.toFixed(1)} ms`,
      );
    }
    return compare(options, lode, direct);
  } finally {
    await Deno.remove(store, { recursive: true });
  }
}

/**
 * The human-readable summary.
 *
 * @example
 * ```ts
 * console.log(formatReport(report));
 * ```
 */
export function formatReport(r: BenchReport): string {
  const row = (name: string, s: SideSummary) =>
    `${name.padEnd(26)} ${s.tokensPerSecond.toFixed(1).padStart(9)} ${
      s.timeToFirstTokenMs.toFixed(1).padStart(9)
    } ` +
    `${s.loadMs.toFixed(0).padStart(8)} ${s.wallMs.toFixed(0).padStart(9)} ${
      String(s.promptTokens).padStart(7)
    } ` +
    `${String(s.generatedTokens).padStart(6)}`;
  const o = r.options;
  const tps = r.tokensPerSecondOverheadPct;
  const ttft = r.timeToFirstTokenDeltaMs;
  return [
    `model ${o.model}, ${o.runs} rounds (medians), ${o.maxTokens} tokens, ${o.threads} thread(s), n_ctx ${o.contextSize}`,
    `${"".padEnd(26)} ${"tok/s".padStart(9)} ${"ttft ms".padStart(9)} ${"load ms".padStart(8)} ${
      "wall ms".padStart(9)
    } ${"prompt".padStart(7)} ${"gen".padStart(6)}`,
    row("lode run --json", r.lode),
    row("node-llama-cpp directly", r.direct),
    `tokens/s overhead: ${tps.toFixed(2)}% (target ≤ 2%): ${tps <= 2 ? "PASS" : "FAIL"}` +
    ` | paired median ${r.paired.tokensPerSecondOverheadPct.toFixed(2)}%`,
    `time-to-first-token delta: ${ttft.toFixed(1)} ms (target ≤ 50 ms): ${ttft <= 50 ? "PASS" : "FAIL"}` +
    ` | paired median ${r.paired.timeToFirstTokenDeltaMs.toFixed(1)} ms`,
    `best rounds (least disturbed): lode ${r.lode.bestTokensPerSecond.toFixed(1)} tok/s, ttft ${
      r.lode.bestTimeToFirstTokenMs.toFixed(1)
    } ms | direct ${r.direct.bestTokensPerSecond.toFixed(1)} tok/s, ttft ${
      r.direct.bestTimeToFirstTokenMs.toFixed(1)
    } ms (tokens/s ${
      (100 * (1 - r.lode.bestTokensPerSecond / r.direct.bestTokensPerSecond)).toFixed(2)
    }% lower)`,
    `same greedy text on both sides: ${r.sameText ? "yes" : "NO"}`,
  ].join("\n");
}

/** The cached benchmark model (generated on first use; the file name records what it is). */
export async function cachedModel(
  params: string,
  tensorType: TensorType,
  log: (l: string) => void,
): Promise<string> {
  const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/lode-bench-inference`;
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/llama-${params}-${tensorType}-seed1.gguf`;
  try {
    await Deno.stat(path);
    return path;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  log(`generating ${path} (once; cached for later runs)`);
  const tmp = `${path}.${Deno.pid}.tmp`;
  await writeGgufModel(tmp, { params: parseCount(params), tensorType, seed: 1 });
  await Deno.rename(tmp, path);
  return path;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "5" },
      params: { type: "string", default: "100M" },
      "tensor-type": { type: "string", default: "f16" },
      threads: { type: "string", default: String(defaultThreads()) },
      "max-tokens": { type: "string", default: "128" },
      "ctx-size": { type: "string", default: "2048" },
      model: { type: "string" },
      out: { type: "string" },
      smoke: { type: "boolean" },
      "cpu-affinity": { type: "string", default: "off" },
    },
  });
  const log = (l: string) => console.error(l);
  const smoke = values.smoke === true;
  const tensorType = values["tensor-type"] as TensorType;
  const model = values.model ?? (smoke ? STORIES : await cachedModel(values.params!, tensorType, log));
  const options: BenchOptions = {
    model,
    runs: smoke ? 1 : Number(values.runs),
    maxTokens: smoke ? 16 : Number(values["max-tokens"]),
    threads: Number(values.threads),
    contextSize: smoke ? 256 : Number(values["ctx-size"]),
    prompt: PROMPT,
    warmup: smoke ? 0 : 1,
    cpuAffinity: values["cpu-affinity"],
  };
  const report = await benchInference(options, log);
  console.log(formatReport(report));
  if (values.out) await Deno.writeTextFile(values.out, JSON.stringify(report, null, 2) + "\n");
}
