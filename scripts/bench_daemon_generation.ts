/**
 * Tokens/s of a greedy generation streamed through a running `lode serve`
 * (client socket → daemon → runner process → daemon → client) against the
 * same generation in this process (the target: at most 5% lower).
 *
 * Fair by construction, and checked: the same model file, the same load
 * settings (the daemon's `loaded` frame must report the threads, context
 * size and accelerator of the in-process session), the same greedy text on
 * both sides (every round's text must be the same), and the client reads
 * and parses every frame. Rounds are pairs run back to back in alternating
 * order, so slow phases of a shared machine hit both sides of a pair; the
 * verdict is the median of the per-round ratios. Wall time is noisy here,
 * so CPU time per token is reported per process (/proc): this process (the
 * in-process generation, or the client), the daemon and its runner.
 *
 * @example
 * ```ts
 * import { benchGeneration } from "./bench_daemon_generation.ts";
 * await benchGeneration({ socket: "/tmp/lode.sock", daemonPid: 1234, model: "stories260K", path: "m.gguf" });
 * ```
 * @module
 */
import { createLlamaCppBackend } from "../src/inference/llama_cpp_backend.ts";
import type { LoadOptions, Session } from "../src/inference/backend.ts";
import { startRunnerSession } from "../src/daemon/runner/runner_session.ts";
import { allowedCpus, pinProcess } from "../src/inference/cpu_affinity.ts";
import { cpuSeconds, median } from "./bench_runner.ts";

const PROMPT = "Once upon a time";
const TARGET = 0.95;
const enc = new TextEncoder();

/** Options of {@link benchGeneration}. */
export interface GenerationBenchOptions {
  /** The daemon's inference socket. */
  socket: string;
  /** The daemon's process id (its runner is found among its children). */
  daemonPid: number;
  /** The model's name in the daemon, and its file for the in-process side. */
  model: string;
  path: string;
  /** The daemon's load settings, used in-process too. Default threads 1, gpu off, context 2048. */
  load?: LoadOptions;
  tokens?: number;
  rounds?: number;
  /**
   * Also time a runner process started here ({@link startRunnerSession}, no daemon), to tell the cost of
   * the process boundary from the daemon's.
   */
  directRunner?: boolean;
}

/** One timed generation. */
interface Run {
  text: string;
  tokens: number;
  /** Tokens over the time from the request to its end, as the consumer sees it. */
  consumer: number;
  /** Tokens after the first over the time between the first and the last one received. */
  decode: number;
  /** The decode rate measured where the model runs. */
  engine: number;
  /** Milliseconds from the request to the first token received. */
  firstMs: number;
  /** Reads that returned data (client side; 0 in-process). */
  reads: number;
  /** CPU seconds: this process, the daemon, the runner. */
  cpu: { self: number; daemon: number; runner: number };
}

/**
 * Runs the paired rounds and prints medians, per-process CPU per token and the ratio against the target;
 * resolves with the median per-round ratio (through the daemon / in-process, consumer tokens/s).
 *
 * @example
 * ```ts
 * const ratio = await benchGeneration({ socket, daemonPid: daemon.pid, model: "stories260K", path, rounds: 9 });
 * ```
 */
export async function benchGeneration(options: GenerationBenchOptions): Promise<number> {
  const tokens = options.tokens ?? 1000;
  const rounds = options.rounds ?? 9;
  // CPU affinity as lode's commands have it by default (--cpu-affinity auto), on both sides.
  const load: LoadOptions = {
    cpus: "auto",
    ...(options.load ?? { threads: 1, gpu: "off", contextSize: 2048 }),
  };
  const runnerPid = await findRunner(options.daemonPid);
  console.log(`load average at the start: ${loadAverage()}`);
  const backend = createLlamaCppBackend();
  // The runner first: a child started after this process is pinned would inherit its one CPU.
  const direct = options.directRunner ? await startRunnerSession(options.path, { load }) : undefined;
  // Pinned like the runner, then moved round by round (see placement).
  const session = await backend.load(options.path, load);
  try {
    const loaded = await loadedFrame(options);
    assertSameSettings(loaded, session);
    const daemonPids = { daemon: options.daemonPid, runner: runnerPid };
    const place = placement(loaded.info?.cpus ?? []);
    const sides = {
      daemon: (n: number) => (place.asClient(), viaDaemon(options, daemonPids, n)),
      local: (n: number) => (place.asGenerator(), inProcess(session, daemonPids, n)),
      ...(direct
        ? {
          runner: (
            n: number,
          ) => (place.anywhere(), inProcess(direct, { daemon: options.daemonPid, runner: direct.pid }, n)),
        }
        : {}),
    };
    const names = Object.keys(sides) as (keyof typeof sides)[];
    for (const name of names) await sides[name]!(32); // warm-up
    const runs: Record<string, Run[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? names : [...names].reverse();
      for (const name of order) runs[name]!.push(await sides[name]!(tokens));
    }
    const texts = new Set(Object.values(runs).flat().map((x) => x.text));
    if (texts.size !== 1) throw new Error("the daemon's and the in-process generations differ");
    return report({ tokens, rounds, load }, runs.local!, runs.daemon!, runs.runner);
  } finally {
    await direct?.close();
    await backend.close();
  }
}

function report(
  o: { tokens: number; rounds: number; load: LoadOptions },
  p: Run[],
  d: Run[],
  direct?: Run[],
): number {
  const m = (xs: Run[], f: (x: Run) => number) => median(xs.map(f));
  const perToken = (xs: Run[], f: (x: Run) => number) =>
    xs.reduce((s, x) => s + f(x), 0) / xs.reduce((s, x) => s + x.tokens, 0) * 1e6;
  const row = (name: string, xs: Run[]) =>
    `${name.padEnd(20)} consumer ${m(xs, (x) => x.consumer).toFixed(0).padStart(5)} tok/s   decode ${
      m(xs, (x) => x.decode).toFixed(0).padStart(5)
    }   engine ${m(xs, (x) => x.engine).toFixed(0).padStart(5)}   first token ${
      m(xs, (x) => x.firstMs).toFixed(1).padStart(5)
    } ms   CPU µs/token: self ${perToken(xs, (x) => x.cpu.self).toFixed(0).padStart(5)} daemon ${
      perToken(xs, (x) => x.cpu.daemon).toFixed(0).padStart(4)
    } runner ${perToken(xs, (x) => x.cpu.runner).toFixed(0).padStart(5)} total ${
      perToken(xs, (x) => x.cpu.self + x.cpu.daemon + x.cpu.runner).toFixed(0).padStart(5)
    }`;
  const ratios = (f: (x: Run) => number) => median(d.map((x, i) => f(x) / f(p[i]!)));
  const consumer = ratios((x) => x.consumer);
  console.log(
    `\n${o.tokens} tokens greedy, threads ${o.load.threads}, gpu ${o.load.gpu}, ctx ${o.load.contextSize}, ` +
      `${o.rounds} paired rounds (medians; CPU summed over the rounds)`,
  );
  console.log(row("in-process", p));
  console.log(row("through lode serve", d));
  if (direct) {
    console.log(row("runner, no daemon", direct));
    const r = median(direct.map((x, i) => x.consumer / p[i]!.consumer));
    console.log(
      `per-round ratio runner (no daemon) / in-process (median): consumer ${(r * 100).toFixed(1)}%`,
    );
  }
  console.log(
    `client reads per generation: ${m(d, (x) => x.reads).toFixed(0)} (${
      (m(d, (x) => x.reads) / o.tokens).toFixed(3)
    } per token)`,
  );
  console.log(
    `per-round ratio daemon / in-process (medians): consumer ${(consumer * 100).toFixed(1)}%, decode ${
      (ratios((x) => x.decode) * 100).toFixed(1)
    }%, engine ${(ratios((x) => x.engine) * 100).toFixed(1)}%; ` +
      `rounds: ${d.map((x, i) => (x.consumer / p[i]!.consumer * 100).toFixed(0)).join(" ")}`,
  );
  const each = d.map((x, i) => x.consumer / p[i]!.consumer).sort((a, b) => a - b);
  const quartile = (q: number) => each[Math.min(each.length - 1, Math.floor(q * each.length))]!;
  const cpuOverhead = perToken(d, (x) => x.cpu.self + x.cpu.daemon + x.cpu.runner) /
      perToken(p, (x) => x.cpu.self) - 1;
  console.log(
    `spread of the per-round ratios: quartiles ${(quartile(0.25) * 100).toFixed(0)}–${
      (quartile(0.75) * 100).toFixed(0)
    }%; CPU per token of all three processes over in-process: +${(cpuOverhead * 100).toFixed(1)}%; ` +
      `load average ${loadAverage()} (2 cores: above ~1.5 other work shares the runner's CPU)`,
  );
  console.log(
    `target: at most ${((1 - TARGET) * 100).toFixed(0)}% lower → ${
      (100 - consumer * 100).toFixed(1)
    }% lower: ${consumer >= TARGET ? "MET" : "NOT MET"}`,
  );
  return consumer;
}

/** The 1-minute load average (/proc/loadavg). */
function loadAverage(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ")[0]!;
}

async function cpuOf(pids: { daemon: number; runner: number }) {
  const [self, daemon, runner] = await Promise.all([
    cpuSeconds(),
    cpuSeconds(pids.daemon),
    cpuSeconds(pids.runner),
  ]);
  return { self, daemon, runner };
}

function cpuSince(before: Run["cpu"], after: Run["cpu"]): Run["cpu"] {
  return {
    self: after.self - before.self,
    daemon: after.daemon - before.daemon,
    runner: after.runner - before.runner,
  };
}

/** One generation through the daemon, every frame read and parsed. */
async function viaDaemon(
  o: GenerationBenchOptions,
  pids: { daemon: number; runner: number },
  tokens: number,
): Promise<Run> {
  const conn = await Deno.connect({ transport: "unix", path: o.socket });
  const dec = new TextDecoder();
  const buf = new Uint8Array(256 * 1024);
  const before = await cpuOf(pids);
  const t0 = performance.now();
  const request = {
    id: "g",
    op: "generate",
    model: o.model,
    prompt: PROMPT,
    max_tokens: tokens,
    temperature: 0,
  };
  await conn.write(enc.encode(JSON.stringify(request) + "\n"));
  let pending = "";
  let first: number | null = null;
  let last = 0;
  let text = "";
  let reads = 0;
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("the daemon closed the connection");
      reads++;
      const lines = (pending + dec.decode(buf.subarray(0, n), { stream: true })).split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        const frame = JSON.parse(line);
        if (frame.type === "token") {
          last = performance.now();
          first ??= last;
          text += frame.text;
        } else if (frame.type === "done") {
          const end = performance.now();
          const cpu = cpuSince(before, await cpuOf(pids));
          const times = { t0, first: first!, last, end };
          return timedRun(text, frame.usage.completion_tokens, times, {
            engine: frame.usage.tokens_per_second ?? 0,
            reads,
            cpu,
          });
        } else if (frame.type === "error") throw new Error(line);
      }
    }
  } finally {
    conn.close();
  }
}

/** A {@link Run} of `count` tokens from its times (ms): request, first and last token, end. */
function timedRun(
  text: string,
  count: number,
  t: { t0: number; first: number; last: number; end: number },
  rest: Pick<Run, "engine" | "reads" | "cpu">,
): Run {
  return {
    text,
    tokens: count,
    consumer: count / ((t.end - t.t0) / 1000),
    decode: (count - 1) / ((t.last - t.first) / 1000),
    firstMs: t.first - t.t0,
    ...rest,
  };
}

async function inProcess(
  session: Session,
  pids: { daemon: number; runner: number },
  tokens: number,
): Promise<Run> {
  const before = await cpuOf(pids);
  const t0 = performance.now();
  let first: number | null = null;
  let last = 0;
  let text = "";
  const generation = session.generate(PROMPT, { maxTokens: tokens, temperature: 0 });
  for await (const chunk of generation) {
    last = performance.now();
    first ??= last;
    text += chunk;
  }
  const end = performance.now();
  const cpu = cpuSince(before, await cpuOf(pids));
  const result = await generation.result;
  const times = { t0, first: first!, last, end };
  return timedRun(text, result.usage.generatedTokens, times, {
    engine: result.usage.tokensPerSecond,
    reads: 0,
    cpu,
  });
}

/**
 * Where this process runs in each round when the daemon's runner is pinned: the in-process generation on
 * the runner's CPU (both sides on the same CPU: on a VM one virtual CPU can be slower than another for a
 * while), the client of the daemon on the other CPUs (it would take CPU time from the runner), the client
 * of a runner started here (`--direct-runner`, pinned where it chose) anywhere. Nothing is moved when the
 * daemon's runner is not pinned.
 */
function placement(runner: number[]): { asGenerator(): void; asClient(): void; anywhere(): void } {
  const allowed = allowedCpus() ?? [];
  const others = allowed.filter((c) => !runner.includes(c));
  const pin = (cpus: number[]) => {
    if (runner.length > 0 && others.length > 0 && !pinProcess(cpus)) {
      throw new Error("cannot pin this process");
    }
  };
  return { asGenerator: () => pin(runner), asClient: () => pin(others), anywhere: () => pin(allowed) };
}

/** The daemon's `loaded` frame for `o.model` (a `load` request). */
// deno-lint-ignore no-explicit-any
async function loadedFrame(o: GenerationBenchOptions): Promise<any> {
  const conn = await Deno.connect({ transport: "unix", path: o.socket });
  try {
    await conn.write(enc.encode(JSON.stringify({ id: "l", op: "load", model: o.model }) + "\n"));
    const buf = new Uint8Array(64 * 1024);
    let got = "";
    while (!got.includes('"type":"done"')) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("the daemon closed the connection");
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    const loaded = got.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l))
      .find((f) => f.type === "loaded");
    if (loaded === undefined) throw new Error(`the daemon did not load ${o.model}: ${got}`);
    return loaded;
  } finally {
    conn.close();
  }
}

/** Fails unless the daemon's model runs with the in-process session's threads, context and accelerator. */
// deno-lint-ignore no-explicit-any
function assertSameSettings(loaded: any, session: Session): void {
  const theirs = {
    threads: loaded.info?.threads,
    contextSize: loaded.context_size,
    accelerator: loaded.capabilities?.accelerator,
    gpuLayers: loaded.capabilities?.gpu_layers,
    pinned: loaded.info?.cpus !== undefined,
  };
  const ours = {
    threads: session.info.threads,
    contextSize: session.info.contextSize,
    accelerator: session.capabilities.accelerator,
    gpuLayers: session.capabilities.gpu_layers,
    pinned: session.info.cpus !== undefined,
  };
  if (JSON.stringify(theirs) !== JSON.stringify(ours)) {
    throw new Error(`the daemon's model is loaded differently: ${JSON.stringify({ theirs, ours })}`);
  }
  console.log(
    `same settings on both sides: ${JSON.stringify(ours)}; CPUs: runner ${loaded.info?.cpus ?? "any"}, ` +
      `in-process ${session.info.cpus ?? "any"}`,
  );
}

/** The pid of the daemon's runner process (a child whose command line has `__runner`). */
async function findRunner(daemonPid: number): Promise<number> {
  for (const task of Deno.readDirSync(`/proc/${daemonPid}/task`)) {
    const children = (await Deno.readTextFile(`/proc/${daemonPid}/task/${task.name}/children`)).trim();
    for (const pid of children.split(/\s+/).filter((s) => s !== "").map(Number)) {
      const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
      if (cmdline.includes("__runner")) return pid;
    }
  }
  throw new Error(`no runner process among the children of the daemon (pid ${daemonPid})`);
}
