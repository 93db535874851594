/**
 * The daemon's overheads, measured against their limits:
 *
 * 1. Requests/s and p50/p99 latency of `health` and `tokenize` over the
 *    inference socket of a real `lode serve` (stories260K preloaded in its
 *    runner), against a bare NDJSON echo server on the same kind of socket
 *    (scripts/bench_ndjson.ts) — N clients, one request in flight each —
 *    and each server's CPU per request (/proc: all its threads).
 * 2. Tokens/s of a greedy stories260K generation streamed through the daemon
 *    (socket → server → runner → server → socket, one `token` frame per
 *    chunk, every frame read and parsed) against the same generation in
 *    this process, same settings and same text (both checked); paired
 *    rounds in alternating order, the median of the per-round ratios against
 *    the target (at most 5% fewer tokens/s), and CPU per token of each process: see
 *    scripts/bench_daemon_generation.ts. `--direct-runner` adds a runner
 *    started here without a daemon (the process boundary's share);
 *    `--generation-only` skips part 1, `--rates-only` part 2. `--log` runs
 *    the daemon with its activity log on (a file in the bench's temp dir).
 *
 * Usage: deno run -A scripts/bench_daemon.ts [--clients 8] [--seconds 1] [--rate-rounds 9] [--tokens 1000] [--rounds 9]
 *   [--gpu off] [--generation-only | --rates-only] [--direct-runner] [--log]
 *
 * @example
 * ```sh
 * deno run -A scripts/bench_daemon.ts --clients 8 --seconds 3 --tokens 1000 --rounds 9
 * deno run -A scripts/bench_daemon.ts --generation-only --rounds 15 --direct-runner
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { client, summarize } from "./bench_ndjson.ts";
import { benchGeneration } from "./bench_daemon_generation.ts";
import { cpuSeconds } from "./bench_runner.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MODEL = `${ROOT}tests/fixtures/stories260K.gguf`;

async function waitForSocket(path: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    try {
      (await Deno.connect({ transport: "unix", path })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error(`nothing listens on ${path}`);
}

function lode(args: string[], store: string): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, ...args],
    env: { MODELS_HOME: store },
    stdout: "null",
    stderr: "null",
  });
}

/** One flood of `seconds`: req/s, latencies, and the CPU per request of the server (process `pid`), in µs. */
async function rate(
  server: { path: string; pid: number },
  clients: number,
  seconds: number,
  terminal: string,
  line?: (i: number) => string,
) {
  const cpuBefore = await cpuSeconds(server.pid);
  const until = performance.now() + seconds * 1000;
  const all = await Promise.all(
    Array.from({ length: clients }, () => client(server.path, until, terminal, line)),
  );
  const cpu = await cpuSeconds(server.pid) - cpuBefore;
  const latencies = all.flat();
  return { ...summarize(latencies, seconds), cpuUs: cpu / latencies.length * 1e6 };
}

/** Waits (at most 30 s) until process `pid` used under 1% of a core over half a second; returns the ms waited. */
async function untilIdle(pid: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < 30_000) {
    const before = await cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 500));
    if (await cpuSeconds(pid) - before < 0.005) break;
  }
  return Math.round(performance.now() - started);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Part 1, paired: `rounds` rounds of echo, `health` and `tokenize` for `seconds` each, the order rotating
 * every round (the limit drifts by tens of percent on a shared VM: a ratio is only fair within a round);
 * medians of each op's figures and of the per-round ratios to echo.
 */
async function benchRates(
  o: {
    echo: { path: string; pid: number };
    daemon: { path: string; pid: number };
    clients: number;
    seconds: number;
    rounds: number;
    log: boolean;
  },
): Promise<void> {
  const tokenize = (i: number) =>
    `{"id":"t${i}","op":"tokenize","model":"stories260K","text":"Once upon a time there was"}\n`;
  const ops = {
    echo: () => rate(o.echo, o.clients, o.seconds, '"op":"health"}'),
    health: () => rate(o.daemon, o.clients, o.seconds, '"type":"done"}'),
    tokenize: () => rate(o.daemon, o.clients, o.seconds, '"type":"done"}', tokenize),
  };
  const names = Object.keys(ops) as (keyof typeof ops)[];
  await ops.tokenize(); // warm-up: the model's vocabulary is open in the daemon before the first round
  const runs: Record<keyof typeof ops, { rps: number; p50: number; p99: number; cpuUs: number }[]> = {
    echo: [],
    health: [],
    tokenize: [],
  };
  for (let r = 0; r < o.rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length]!;
      runs[name].push(await ops[name]());
    }
  }
  console.log(
    `${o.clients} clients, one request in flight each; ${o.rounds} rounds of ${o.seconds} s per op, order rotating (medians)${
      o.log ? "; the daemon's activity log on" : ""
    }`,
  );
  for (const name of names) {
    const xs = runs[name];
    const ratios = xs.map((x, i) => x.rps / runs.echo[i]!.rps * 100);
    console.log(
      `${(name === "echo" ? "bare NDJSON echo" : `lode serve: ${name}`).padEnd(24)} ${
        String(median(xs.map((x) => x.rps))).padStart(7)
      } req/s   p50 ${median(xs.map((x) => x.p50)).toFixed(3)} ms   p99 ${
        median(xs.map((x) => x.p99)).toFixed(3)
      } ms   server CPU ${median(xs.map((x) => x.cpuUs)).toFixed(1).padStart(4)} µs/req` +
        (name === "echo"
          ? ""
          : `   ${median(ratios).toFixed(0)}% of echo (rounds ${ratios.map((x) => x.toFixed(0)).join(" ")})`),
    );
  }
  const worst = Math.min(
    ...names.slice(1).map((n) => median(runs[n].map((x, i) => x.rps / runs.echo[i]!.rps))),
  );
  console.log(
    `target: at least half of echo → ${(worst * 100).toFixed(0)}%: ${worst >= 0.5 ? "MET" : "NOT MET"}`,
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      clients: { type: "string", default: "8" },
      seconds: { type: "string", default: "1" },
      "rate-rounds": { type: "string", default: "9" },
      tokens: { type: "string", default: "1000" },
      rounds: { type: "string", default: "9" },
      gpu: { type: "string", default: "off" },
      "generation-only": { type: "boolean", default: false },
      "rates-only": { type: "boolean", default: false },
      "direct-runner": { type: "boolean", default: false },
      log: { type: "boolean", default: false },
    },
  });
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const tokens = Number(values.tokens);
  const rounds = Number(values.rounds);
  const rateRounds = Number(values["rate-rounds"]);
  const dir = await Deno.makeTempDir({ prefix: "lode-bench-daemon-" });
  const store = `${dir}/store`;
  const socket = `${dir}/lode.sock`;
  const echoPath = `${dir}/echo.sock`;
  await lode(["import", MODEL, "--name", "stories260K"], store).output();
  const daemon = lode(
    [
      "serve",
      "--socket",
      socket,
      "--model",
      "stories260K",
      "--threads",
      "1",
      "--ctx-size",
      "2048",
      "--max-queue",
      "1024",
      "--gpu",
      values.gpu,
      ...(values.log ? ["--log", `${dir}/activity.ndjson`] : []),
    ],
    store,
  ).spawn();
  const echo = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/bench_ndjson.ts`, "--serve-echo", echoPath],
    stdout: "null",
  }).spawn();
  try {
    await Promise.all([waitForSocket(socket), waitForSocket(echoPath)]);
    if (!values["generation-only"]) {
      await benchRates({
        echo: { path: echoPath, pid: echo.pid },
        daemon: { path: socket, pid: daemon.pid },
        clients,
        seconds,
        rounds: rateRounds,
        log: values.log,
      });
    }
    if (!values["rates-only"]) {
      // After part 1's flood of requests V8 shrinks the daemon's heap for a while (major GCs on the
      // shared 2 cores): part 2 measures streaming, so it starts once the daemon is idle again.
      const settled = await untilIdle(daemon.pid);
      console.log(
        `\nstories260K: tokens/s through lode serve against in-process (daemon idle after ${settled} ms)`,
      );
      const gpu = values.gpu === "off" || values.gpu === "auto" ? values.gpu : Number(values.gpu);
      await benchGeneration({
        socket,
        daemonPid: daemon.pid,
        model: "stories260K",
        path: MODEL,
        load: { threads: 1, gpu, contextSize: 2048 },
        tokens,
        rounds,
        directRunner: values["direct-runner"],
      });
    }
  } finally {
    daemon.kill("SIGTERM");
    echo.kill();
    await Promise.all([daemon.status, echo.status]);
    await Deno.remove(dir, { recursive: true });
  }
}
