/**
 * `deno run -A scripts/bench_batch.ts`: the throughput of `lode batch` on a generated ~100M-parameter llama
 * model (f16, cached in a temp directory as scripts/bench_inference.ts caches it), in one run, same threads:
 * a batch of chat requests (64 by default, each `--max-tokens` tokens at temperature 0) run with
 * `--parallel 1`, then 2, 4, 8, 16, 32 and 64, each a `lode batch … --no-daemon --json` process; then (with
 * `--daemon 1,N`) the same batch submitted to a `lode serve --parallel N` daemon started for it (`lode batch
 * -p N --socket …`: the daemon loads the model with N sequences, each `--ctx-size` tokens); then the same
 * requests one by one with `lode run` (`--lines-run` of them, a process each, as a loop around `lode run`
 * would). For each: generated tokens per second (the batch's own count over its own time, after the model
 * is loaded; for `lode run`, all tokens over the wall time of the processes), the wall time per request
 * including start-up and load (for a daemon: the batch command's wall time, the model preloaded by the
 * daemon), and the peak RSS (VmHWM) of the process (for a daemon: of the daemon and its runner, summed).
 * The answers of every setting are compared with those of `--parallel 1`.
 *
 * ```sh
 * deno run -A scripts/bench_batch.ts [--lines 64] [--max-tokens 64] [--parallel 1,2,4,8,16,32,64] [--threads N]
 *   [--daemon 1,16] [--ctx-size 256] [--lines-run 8] [--params 100M] [--tensor-type f16] [--model FILE]
 *   [--rounds 1] [--out FILE.json]
 * ```
 * `--rounds N` runs the `--parallel` settings N times in turn (each round a fresh output file) and reports
 * each setting's median round, and every round's ratio to the first setting.
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { TensorType } from "./gen_gguf.ts";
import { cachedModel } from "./bench_inference.ts";
import { defaultThreads } from "../src/inference/default_threads.ts";
import { processTree, timedCommand, type TimedRun, treeUsage } from "./bench_process.ts";

const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));

/** Prompts of a few dozen tokens each, different per request. */
const SUBJECTS = [
  "a dog",
  "the sea",
  "a red ball",
  "a small town",
  "the moon",
  "a lost key",
  "rain",
  "a king",
];

/** One setting's measurements. */
export interface BatchSample {
  setting: string;
  requests: number;
  generatedTokens: number;
  /** Generated tokens per second, after load. */
  tokensPerSecond: number;
  /** Wall milliseconds of the process(es), start-up and load included. */
  wallMs: number;
  /** Wall milliseconds per request. */
  msPerRequest: number;
  /** CPU seconds of the process(es), user and system, start-up and load included. */
  cpuS: number;
  /** Generated tokens per CPU second (steadier than per wall second on a busy machine). */
  tokensPerCpuS: number;
  /** Peak resident memory of the process, in MiB (the largest of the `lode run` processes). */
  peakRssMiB: number;
  /** Answers that differ from `--parallel 1`'s (null for `--parallel 1` itself). */
  differing: number | null;
}

function prompt(i: number): string {
  const subject = SUBJECTS[i % SUBJECTS.length]!;
  return `Request ${i}: tell a short story about ${subject}, with a beginning, a middle and an end. ` +
    "Use simple words.".repeat(1 + (i % 3));
}

/** `lode ARGS` under `/usr/bin/time`: its wall time, CPU time (user + system) and peak RSS. */
function measured(args: string[], env: Record<string, string>): Promise<TimedRun> {
  return timedCommand([Deno.execPath(), "run", "-A", MAIN_TS, ...args], env);
}

function answers(path: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of Deno.readTextFileSync(path).split("\n")) {
    if (line === "") continue;
    const l = JSON.parse(line);
    out.set(l.custom_id, l.response.body.choices[0].message.content);
  }
  return out;
}

/**
 * The batch submitted to a `lode serve --parallel p` started for it (and stopped after): `lode batch -p p
 * --socket …`, the model preloaded (`-m`) so that the batch measures decoding only.
 */
async function daemonBatch(
  p: number,
  o: {
    dir: string;
    env: Record<string, string>;
    input: string;
    output: string;
    threads: string;
    ctxSize: string;
  },
): Promise<BatchSample> {
  const socket = `${o.dir}/d${p}.sock`;
  const serve = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN_TS,
      "serve",
      "--socket",
      socket,
      "-m",
      "bench",
      "--parallel",
      String(p),
      "--threads",
      o.threads,
    ]
      .concat(["--ctx-size", o.ctxSize, "--cpu-affinity", "off"]),
    env: o.env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(serve.stderr).text();
  try {
    for (let i = 0;; i++) {
      try {
        (await Deno.connect({ transport: "unix", path: socket })).close();
        break;
      } catch {
        if (i > 600) throw new Error(`lode serve did not start: ${await stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const before = treeUsage(processTree(serve.pid));
    const r = await measured(
      ["batch", o.input, "-m", "bench", "-o", o.output, "-p", String(p), "--socket", socket, "--json"],
      o.env,
    );
    if (r.code !== 0) {
      throw new Error(`lode batch through the daemon failed: ${r.stderr}\n${r.stdout.slice(-2000)}`);
    }
    const after = treeUsage(processTree(serve.pid));
    const record = r.stdout.split("\n").filter((l) => l.includes('"event":"job"')).map((l) => JSON.parse(l))
      .at(-1);
    const result = record.result as { generated_tokens: number; tokens_per_second: number; total: number };
    const cpuS = after.cpuS - before.cpuS + r.cpuS;
    return {
      setting: `daemon --parallel ${p}`,
      requests: result.total,
      generatedTokens: result.generated_tokens,
      tokensPerSecond: result.tokens_per_second,
      wallMs: r.wallMs,
      cpuS,
      tokensPerCpuS: result.generated_tokens / cpuS,
      msPerRequest: r.wallMs / result.total,
      peakRssMiB: after.peakKiB / 1024,
      differing: null,
    };
  } finally {
    serve.kill("SIGTERM");
    await serve.status;
    await stderr;
  }
}

/** Requests whose answer in `got` is not the one in `reference`. */
function differingAnswers(reference: Map<string, string>, got: Map<string, string>): number {
  return [...reference.keys()].filter((id) => reference.get(id) !== got.get(id)).length;
}

/** The sample of median tokens per second (the upper one of an even count). */
export function medianSample(samples: BatchSample[]): BatchSample {
  const sorted = [...samples].sort((a, b) => a.tokensPerSecond - b.tokensPerSecond);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** `lode batch INPUT -p p` in its own process (`inProcess`: threads, context, no daemon). */
async function inProcessBatch(
  p: number,
  o: { env: Record<string, string>; input: string; output: string; inProcess: string[] },
): Promise<BatchSample> {
  const r = await measured(
    ["batch", o.input, "-m", "bench", "-o", o.output, "-p", String(p), ...o.inProcess, "--json"],
    o.env,
  );
  if (r.code !== 0) {
    throw new Error(`lode batch --parallel ${p} failed: ${r.stderr}\n${r.stdout.slice(-2000)}`);
  }
  const record = r.stdout.split("\n").filter((l) => l.includes('"event":"job"')).map((l) => JSON.parse(l)).at(
    -1,
  );
  const result = record.result as { generated_tokens: number; tokens_per_second: number; total: number };
  return {
    setting: `--parallel ${p}`,
    requests: result.total,
    generatedTokens: result.generated_tokens,
    tokensPerSecond: result.tokens_per_second,
    wallMs: r.wallMs,
    cpuS: r.cpuS,
    tokensPerCpuS: result.generated_tokens / r.cpuS,
    msPerRequest: r.wallMs / result.total,
    peakRssMiB: r.peakKiB / 1024,
    differing: null,
  };
}

/** Formats the samples as a table. */
export function formatSamples(samples: BatchSample[]): string {
  const base = samples.find((s) => s.setting === "--parallel 1");
  const rows = samples.map((s) =>
    [
      s.setting.padEnd(22),
      String(s.requests).padStart(4),
      String(s.generatedTokens).padStart(6),
      s.tokensPerSecond.toFixed(1).padStart(8),
      (base ? `${(s.tokensPerSecond / base.tokensPerSecond).toFixed(2)}×` : "").padStart(6),
      (s.msPerRequest / 1000).toFixed(2).padStart(8),
      s.tokensPerCpuS.toFixed(1).padStart(9),
      s.peakRssMiB.toFixed(0).padStart(7),
      s.differing === null ? "" : `${s.differing}`.padStart(5),
    ].join("  ")
  );
  return [
    "setting                 req  tokens     tok/s  vs p1  s/request  tok/cpu-s  RSS MiB  diff",
    ...rows,
  ]
    .join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      lines: { type: "string", default: "64" },
      "max-tokens": { type: "string", default: "64" },
      parallel: { type: "string", default: "1,2,4,8,16,32,64" },
      daemon: { type: "string", default: "" },
      threads: { type: "string", default: String(defaultThreads()) },
      "ctx-size": { type: "string", default: "256" },
      "lines-run": { type: "string", default: "8" },
      params: { type: "string", default: "100M" },
      "tensor-type": { type: "string", default: "f16" },
      model: { type: "string" },
      rounds: { type: "string", default: "1" },
      out: { type: "string" },
    },
  });
  const log = (l: string) => console.error(l);
  const model = values.model ?? await cachedModel(values.params!, values["tensor-type"] as TensorType, log);
  const dir = await Deno.makeTempDir({ prefix: "lode-bench-batch-" });
  const env = { MODELS_HOME: `${dir}/store`, NO_COLOR: "1", XDG_CONFIG_HOME: `${dir}/no-config` };
  const threads = values.threads!;
  const maxTokens = Number(values["max-tokens"]);
  const lines = Number(values.lines);
  // The load of a `lode batch` or `lode run` in its own process: same threads and context for every row.
  const inProcess = [
    "--threads",
    threads,
    "--ctx-size",
    values["ctx-size"]!,
    "--no-daemon",
    "--cpu-affinity",
    "off",
  ];
  try {
    const imported = await measured(["import", model, "--name", "bench"], env);
    if (imported.code !== 0) throw new Error(imported.stderr);
    const input = `${dir}/in.jsonl`;
    await Deno.writeTextFile(
      input,
      Array.from({ length: lines }, (_, i) =>
        JSON.stringify({
          custom_id: `req-${i}`,
          method: "POST",
          url: "/v1/chat/completions",
          body: { messages: [{ role: "user", content: prompt(i) }], max_tokens: maxTokens, temperature: 0 },
        })).join("\n") + "\n",
    );
    const samples: BatchSample[] = [];
    let reference: Map<string, string> | undefined;
    const settings = values.parallel!.split(",").map(Number);
    const rounds = Number(values.rounds);
    // Rounds alternate the settings, so a change in the machine's load reaches every setting alike.
    const byRound: BatchSample[][] = [];
    for (let round = 1; round <= rounds; round++) {
      const row: BatchSample[] = [];
      for (const p of settings) {
        const output = `${dir}/out-${p}-${round}.jsonl`;
        log(`lode batch --parallel ${p}${rounds > 1 ? ` (round ${round} of ${rounds})` : ""} …`);
        const sample = await inProcessBatch(p, { env, input, output, inProcess });
        const got = answers(output);
        sample.differing = reference === undefined ? null : differingAnswers(reference, got);
        reference ??= got;
        row.push(sample);
        log(formatSamples([sample]));
      }
      byRound.push(row);
    }
    samples.push(...settings.map((_, i) => medianSample(byRound.map((row) => row[i]!))));
    if (rounds > 1) {
      for (const [i, p] of settings.entries()) {
        const ratios = byRound.map((row) => (row[i]!.tokensPerSecond / row[0]!.tokensPerSecond).toFixed(2));
        console.log(`--parallel ${p} against --parallel ${settings[0]}, by round: ${ratios.join(", ")}`);
      }
    }
    for (const p of values.daemon!.split(",").filter((v) => v !== "").map(Number)) {
      log(`lode serve --parallel ${p}, lode batch -p ${p} through it …`);
      const output = `${dir}/out-daemon-${p}.jsonl`;
      const sample = await daemonBatch(p, { dir, env, input, output, threads, ctxSize: values["ctx-size"]! });
      const got = answers(output);
      sample.differing = reference === undefined ? null : differingAnswers(reference, got);
      samples.push(sample);
      log(formatSamples(samples.slice(-1)));
    }
    const runs = Math.min(Number(values["lines-run"]), lines);
    if (runs > 0) {
      log(`lode run, ${runs} requests one by one …`);
      let tokens = 0;
      let wall = 0;
      let peak = 0;
      let cpu = 0;
      for (let i = 0; i < runs; i++) {
        const r = await measured([
          "run",
          "bench",
          prompt(i),
          "--json",
          "-n",
          String(maxTokens),
          "--temperature",
          "0",
          ...inProcess,
        ], env);
        if (r.code !== 0) throw new Error(`lode run failed: ${r.stderr}`);
        const done = r.stdout.split("\n").filter((l) =>
          l.includes('"event":"done"')
        ).map((l) => JSON.parse(l))[0];
        tokens += done.usage.generatedTokens;
        wall += r.wallMs;
        cpu += r.cpuS;
        peak = Math.max(peak, r.peakKiB);
      }
      samples.push({
        setting: "lode run × 1",
        requests: runs,
        generatedTokens: tokens,
        tokensPerSecond: tokens / (wall / 1000),
        wallMs: wall,
        cpuS: cpu,
        tokensPerCpuS: tokens / cpu,
        msPerRequest: wall / runs,
        peakRssMiB: peak / 1024,
        differing: null,
      });
    }
    console.log(`model ${model}, ${lines} chat requests × ${maxTokens} tokens, threads ${threads}`);
    console.log(formatSamples(samples));
    if (values.out) await Deno.writeTextFile(values.out, JSON.stringify(samples, null, 2) + "\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
