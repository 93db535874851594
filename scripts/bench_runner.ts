/**
 * The cost of running a model in a runner process: tokens/s of stories260K
 * streamed through a runner (`lode __runner`, the plugin protocol's backend
 * part over a Unix socket, chunks batched) against the same generation in
 * this process. Both generate
 * the same greedy continuation (checked) with the same threads; rounds
 * alternate which goes first, and medians are reported.
 *
 * Tokens/s here is what the consumer sees: generated tokens over the time
 * from `generate()` to the end of the stream (prompt processing included);
 * `decode` is the rate between the first and the last chunk received;
 * `engine` the decode rate measured where the model runs (in the runner for
 * the runner rounds: what the process boundary costs the generation itself,
 * as opposed to carrying its tokens). On a
 * shared machine wall-clock rates are noisy, so CPU time per token is
 * reported too (this process, plus the runner's for the runner rounds, from
 * /proc): the runner's extra CPU per token is the cost of the process
 * boundary, whatever else the machine is doing.
 *
 * Usage: deno run -A scripts/bench_runner.ts [--tokens 256] [--rounds 7] [--threads 1]
 *
 * @example
 * ```sh
 * deno run -A scripts/bench_runner.ts --tokens 256 --rounds 9
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { Session } from "../src/inference/backend.ts";
import { createLlamaCppBackend } from "../src/inference/llama_cpp_backend.ts";
import { startRunnerSession } from "../src/daemon/runner/runner_session.ts";

const MODEL = fileURLToPath(new URL("../tests/fixtures/stories260K.gguf", import.meta.url));
const PROMPT = "Once upon a time";

/** One timed generation. */
export interface Timing {
  text: string;
  tokens: number;
  /** Tokens over the time from the call to the end of the stream. */
  tokensPerSecond: number;
  /** Tokens after the first over the time between the first and the last chunk received. */
  decodePerSecond: number;
  /** The decode rate the session itself measured where the model runs (`usage.tokensPerSecond`). */
  enginePerSecond: number;
}

/**
 * Generates `tokens` tokens greedily and times them as the consumer sees them.
 *
 * @example
 * ```ts
 * import type { Session } from "../src/inference/backend.ts";
 * declare const session: Session;
 * const t = await timeGeneration(session, 256);
 * ```
 */
export async function timeGeneration(session: Session, tokens: number): Promise<Timing> {
  const start = performance.now();
  let first = 0;
  let last = 0;
  const generation = session.generate(PROMPT, { maxTokens: tokens, temperature: 0 });
  for await (const _ of generation) {
    last = performance.now();
    if (first === 0) first = last;
  }
  const end = performance.now();
  const result = await generation.result;
  const n = result.usage.generatedTokens;
  return {
    text: result.text,
    tokens: n,
    tokensPerSecond: n / ((end - start) / 1000),
    decodePerSecond: n > 1 && last > first ? (n - 1) / ((last - first) / 1000) : 0,
    enginePerSecond: result.usage.tokensPerSecond,
  };
}

/**
 * CPU seconds (user + system) used so far by this process, or by process `pid` (from /proc, in ticks of
 * 1/100 s).
 *
 * @example
 * ```ts
 * const before = await cpuSeconds();
 * ```
 */
export async function cpuSeconds(pid?: number): Promise<number> {
  if (pid === undefined) {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  }
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14 and 15)
}

/**
 * The median of `values`.
 *
 * @example
 * ```ts
 * median([3, 1, 2]); // 2
 * ```
 */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      tokens: { type: "string", default: "256" },
      rounds: { type: "string", default: "7" },
      threads: { type: "string", default: "1" },
    },
  });
  const tokens = Number(values.tokens);
  const rounds = Number(values.rounds);
  const load = { threads: Number(values.threads), gpu: "off" as const, contextSize: 2048 };

  const backend = createLlamaCppBackend();
  const local = await backend.load(MODEL, load);
  const t0 = performance.now();
  const remote = await startRunnerSession(MODEL, { load });
  const startMs = performance.now() - t0;
  try {
    for (const s of [local, remote]) await timeGeneration(s, 16); // warm-up
    const runs: { local: Timing[]; runner: Timing[] } = { local: [], runner: [] };
    const cpu = { local: 0, runner: 0 };
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? ["local", "runner"] as const : ["runner", "local"] as const;
      for (const which of order) {
        const cpuNow = async () =>
          await cpuSeconds() + (which === "runner" ? await cpuSeconds(remote.pid) : 0);
        const before = await cpuNow();
        runs[which].push(await timeGeneration(which === "local" ? local : remote, tokens));
        cpu[which] += await cpuNow() - before;
      }
    }
    const texts = new Set([...runs.local, ...runs.runner].map((t) => t.text));
    if (texts.size !== 1) throw new Error("the runner and in-process generations differ");
    const row = (name: string, t: Timing[], seconds: number) => {
      const tps = median(t.map((x) => x.tokensPerSecond));
      const decode = median(t.map((x) => x.decodePerSecond));
      const engine = median(t.map((x) => x.enginePerSecond));
      const cpuPerToken = seconds / t.reduce((sum, x) => sum + x.tokens, 0) * 1e6;
      const cells = [
        name.padEnd(12),
        `${tps.toFixed(0).padStart(6)} tok/s`,
        `decode ${decode.toFixed(0).padStart(6)}`,
        `engine ${engine.toFixed(0).padStart(6)}`,
        `CPU ${cpuPerToken.toFixed(0).padStart(5)} µs/token`,
      ];
      console.log(cells.join("   "));
      return { tps, cpuPerToken };
    };
    console.log(`stories260K, ${tokens} tokens greedy, threads ${load.threads}, ${rounds} rounds (medians)`);
    const a = row("in-process", runs.local, cpu.local);
    const b = row("runner", runs.runner, cpu.runner);
    console.log(
      `runner: ${((1 - b.tps / a.tps) * 100).toFixed(1)}% lower tok/s (wall), ` +
        `+${(b.cpuPerToken - a.cpuPerToken).toFixed(0)} µs CPU per token ` +
        `(+${((b.cpuPerToken / a.cpuPerToken - 1) * 100).toFixed(1)}%); runner start + load ${
          startMs.toFixed(0)
        } ms`,
    );
  } finally {
    await remote.close();
    await backend.close();
  }
}

if (import.meta.main) await main();
