/**
 * `deno task bench`: pull throughput of `lode pull` against the usual shell tools and aria2c, all fetching
 * the same generated GGUF from a standalone nginx (HTTPS, test CA, `sendfile on`) on 127.0.0.1, in two
 * scenarios: `unthrottled` (default 1 GiB) and `throttled` (default 256 MiB, nginx `limit_rate` per
 * connection, default 25 MB/s = 25,000,000 bytes/s), where parallel connections are what counts.
 *
 * ```sh
 * deno task bench [--scenario all|unthrottled|throttled] [--size S] [--throttle 25MB] [--runs 5]
 *                 [--lode-connections N] [--out bench.json] [--tmp DIR] [--no-aria2] [--no-sync-row]
 *                 [--lode-main path/to/main.ts] [--lode-before other/main.ts] [--no-sha256sum]
 * deno task bench --resume-test [--size 256MiB] [--throttle 25MB] [--lode-connections N]
 * ```
 *
 * Rounds are interleaved (every tool once per round), each run into a fresh target directory that is
 * deleted afterwards; `sync` runs (untimed) before every timed run so no earlier writeback overlaps it.
 * Nothing is dropped from the page cache: the origin file is hot for every tool. Wall time is taken
 * around the child process; peak RSS and CPU time come from `/usr/bin/time -f "%e %M %U %S"` (for a
 * pipeline: RSS of its largest process, CPU of all). Every result is re-hashed and checked. lode gets
 * `--connections N` only with `--lode-connections N`; otherwise it runs with its own default. Missing
 * nginx / time / aria2c are installed with apt-get (said in the output). Ctrl-C cleans up.
 * `--resume-test` (scripts/bench_resume.ts) kills a throttled `lode pull` at 50% and restarts it.
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseSize, writeGgufModel } from "./gen_gguf.ts";
import { makeTestCa } from "../tests/support/test_ca.ts";
import {
  formatTable,
  LODE,
  type ScenarioKind,
  summarise,
  type ToolRow,
  type ToolSamples,
  type Verdict,
  verdicts,
} from "./bench_report.ts";
import { cleanupAll, ensureBin, exec, onCleanup, startNginx } from "./bench_nginx.ts";
import { benchTools, runOnce, type Target } from "./bench_tools.ts";
import { resumeTest } from "./bench_resume.ts";

const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));
const DEFAULT_SIZE: Record<ScenarioKind, string> = { unthrottled: "1GiB", throttled: "256MiB" };

const USAGE = `deno task bench [--scenario all|unthrottled|throttled] [--size S] [--throttle 25MB] [--runs 5]
                [--lode-connections N] [--out FILE.json] [--tmp DIR] [--no-aria2] [--no-sync-row]
                [--lode-main main.ts] [--lode-before other/main.ts] [--no-sha256sum]
deno task bench --resume-test [--size 256MiB] [--throttle 25MB] [--lode-connections N] [--out FILE.json]

  --scenario          all (default) = unthrottled (1 GiB) then throttled (256 MiB)
  --size              file size for every scenario run (default: per scenario, as above)
  --throttle          per-connection rate of the throttled scenario, bytes/s: 25MB = 25,000,000;
                      25MiB or 25m = 26,214,400 (nginx's own k/m suffixes are 1024 multiples)
  --lode-connections  pass --connections N to lode pull (default: lode's own default)
  --lode-main         the lode main.ts to benchmark (default: this checkout's)
  --lode-before       another tree's main.ts, pulled in every round right before --lode-main's
                      (row "lode pull (before)": compares two builds under the same load)
  --no-sha256sum      leave out the two sha256sum rows (shorter rounds)
  --resume-test       kill a throttled lode pull at 50%, run it again; report what nginx sent twice`;

/** Everything the scenarios share. */
interface Env {
  work: string;
  nginx: string;
  ca: { caCertPath: string; certPem: string; keyPem: string };
  time: string | null;
  lode: { lodeMain: string; lodeBefore?: string; connections?: number };
}

/** Generates the scenario's file and serves it from an nginx of its own (throttled when asked). */
async function serve(
  env: Env,
  name: string,
  options: { size: number; throttle: number | null; log?: boolean },
) {
  const www = `${env.work}/www-${name}`;
  await Deno.mkdir(www, { mode: 0o755 });
  onCleanup(() => Deno.remove(www, { recursive: true }).catch(() => {}));
  const origin = `${www}/m.gguf`;
  console.error(`generating ${options.size} bytes at ${origin}`);
  const model = await writeGgufModel(origin, { sizeBytes: options.size, seed: 1 });
  await Deno.chmod(origin, 0o644);
  const accessLog = options.log ? `${env.work}/nginx-${name}/logs/access.log` : undefined;
  const server = await startNginx(env.nginx, `${env.work}/nginx-${name}`, {
    www,
    certPem: env.ca.certPem,
    keyPem: env.ca.keyPem,
    limitRate: options.throttle ?? undefined,
    accessLog,
  });
  const url = `${server.url}/m.gguf`;
  console.error(`${server.version} serving ${url} (sha256 ${model.sha256})`);
  const target = (dir: string): Target => ({
    dir,
    url,
    ca: env.ca.caCertPath,
    origin,
    sha256: model.sha256,
    size: model.sizeBytes,
  });
  const done = async () => {
    await server.stop();
    await Deno.remove(www, { recursive: true }).catch(() => {});
  };
  return { target, server, accessLog, done };
}

/** `limit_rate N` explained in both units, and what nginx's suffix would have meant. */
function throttleText(bytesPerS: number): string {
  return `nginx limit_rate ${bytesPerS} bytes/s per connection = ${(bytesPerS / 1e6).toFixed(1)} MB/s = ${
    (bytesPerS / 2 ** 20).toFixed(2)
  } MiB/s (nginx's k/m suffixes are 1024 multiples: \`limit_rate 25m\` = 26,214,400 bytes/s)`;
}

/** The outcome of one scenario. */
interface ScenarioResult {
  kind: ScenarioKind;
  rows: ToolRow[];
  samples: ToolSamples[];
  verdicts: Verdict[];
  json: Record<string, unknown>;
}

async function runScenario(
  env: Env,
  kind: ScenarioKind,
  options: {
    size: number;
    throttle: number;
    runs: number;
    aria2: boolean;
    syncRow: boolean;
    noSha256sum: boolean;
  },
): Promise<ScenarioResult> {
  const throttle = kind === "throttled" ? options.throttle : null;
  const { target, server, done } = await serve(env, kind, { size: options.size, throttle });
  const list = benchTools({
    ...env.lode,
    hashRow: kind === "unthrottled",
    syncRow: options.syncRow,
    aria2: options.aria2,
    curls16: kind === "throttled",
    noSha256sum: options.noSha256sum,
  });
  const samples: ToolSamples[] = list.map((t) => ({
    tool: t.tool,
    command: t.command,
    seconds: [],
    rssKib: [],
    cpuS: [],
    serverCpuS: [],
    sysS: [],
  }));
  // Warm-up (untimed): one TLS fetch (of the first MiB only when throttled).
  const range = throttle ? ["-r", "0-1048575"] : [];
  await exec("curl", ["-s", "--cacert", env.ca.caCertPath, ...range, "-o", "/dev/null", target("").url]);
  for (let round = 1; round <= options.runs; round++) {
    // Each round starts one tool further down the list: no tool always runs right after the same one (a
    // tool's cost here depends on what the one before left in the page cache and the VM's memory).
    const order = list.map((tool, i) => [i, tool] as const);
    const turn = (round - 1) % list.length;
    for (const [i, tool] of [...order.slice(turn), ...order.slice(0, turn)]) {
      const dir = `${env.work}/run`;
      await Deno.mkdir(dir);
      await exec("sync", []);
      const serverBefore = server.cpuSeconds();
      const { s, rss, cpu, sys } = await runOnce(tool, target(dir), { time: env.time });
      const serverCpu = server.cpuSeconds() - serverBefore;
      samples[i]!.seconds.push(s);
      samples[i]!.rssKib.push(rss);
      samples[i]!.cpuS!.push(cpu);
      samples[i]!.serverCpuS!.push(serverCpu);
      samples[i]!.sysS!.push(sys);
      const shown = `${s.toFixed(3)} s  cpu ${cpu?.toFixed(2) ?? "-"} s (sys ${
        sys?.toFixed(2) ?? "-"
      })  nginx cpu ${serverCpu.toFixed(2)} s  ${rss ?? "-"} KiB`;
      console.error(`${kind} round ${round}/${options.runs}  ${tool.tool.padEnd(32)} ${shown}`);
      await Deno.remove(dir, { recursive: true });
    }
  }
  await done();
  const { size: sizeBytes, sha256 } = target("");
  const rows = summarise(samples, sizeBytes);
  const v = verdicts(rows, kind, { connections: env.lode.connections });
  const mib = (sizeBytes / 2 ** 20).toFixed(0);
  console.log(
    `\n== ${kind}: file ${sizeBytes} bytes (${mib} MiB), ${options.runs} run(s), ${server.version}`,
  );
  console.log(`   ${throttle ? throttleText(throttle) : "no limit_rate"}`);
  for (const r of rows) console.log(`  ${r.tool.padEnd(32)} ${r.command}`);
  console.log("\n" + formatTable(rows) + "\n");
  for (const x of v) console.log(x.line);
  const gib = sizeBytes / 2 ** 30;
  for (const [i, t] of samples.entries()) {
    const both = t.cpuS!.map((c, run) => c === null ? null : (c + t.serverCpuS![run]!) / gib);
    const known = both.filter((x): x is number => x !== null).sort((a, b) => a - b);
    if (known.length === 0) continue;
    const median = known[Math.floor(known.length / 2)]!;
    // The unthrottled goal counts lode's CPU and the server's together.
    const goal = kind === "unthrottled" && list[i]!.tool === LODE
      ? ` (target <= 3.2: ${median <= 3.2 ? "met" : "MISSED"})`
      : "";
    console.log(
      `  ${list[i]!.tool.padEnd(32)} client + nginx CPU per GiB: ${median.toFixed(2)} s (median)${goal}`,
    );
  }
  const json = {
    scenario: kind,
    nginx: server.version,
    size_bytes: sizeBytes,
    sha256,
    runs: options.runs,
    limit_rate_bytes_per_s: throttle,
    tools: rows.map((r, i) => ({
      ...r,
      seconds: samples[i]!.seconds,
      rss_kib: samples[i]!.rssKib,
      cpu_seconds: samples[i]!.cpuS,
      server_cpu_seconds: samples[i]!.serverCpuS,
      system_cpu_seconds: samples[i]!.sysS,
    })),
    ratios: Object.fromEntries(v.map((x) => [x.key, x.value])),
    ratio_lines: v.map((x) => x.line),
    lode_peak_rss_mb: rows.find((r) => r.tool === LODE)?.peak_rss_mb ?? null,
  };
  return { kind, rows, samples, verdicts: v, json };
}

async function runResume(
  env: Env,
  options: { size: number; throttle: number },
): Promise<Record<string, unknown>> {
  const { target, server, accessLog, done } = await serve(env, "resume", { ...options, log: true });
  const dir = `${env.work}/resume`;
  await Deno.mkdir(dir);
  const t = target(dir);
  const connections = env.lode.connections === undefined ? "lode's default" : `${env.lode.connections}`;
  const report = await resumeTest(t, { ...env.lode, accessLog: accessLog! });
  await done();
  console.log(
    `\n== resume test: file ${t.size} bytes (${(t.size / 2 ** 20).toFixed(0)} MiB), ${server.version}`,
  );
  console.log(`   ${throttleText(options.throttle)}; lode connections: ${connections}`);
  console.log(`   access_log: $request $http_range $bytes_sent $body_bytes_sent (this mode only)\n`);
  for (const line of report.lines) console.log(line);
  return { nginx: server.version, limit_rate_bytes_per_s: options.throttle, ...report.json };
}

async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0]!;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: "string", default: "all" },
      size: { type: "string" },
      throttle: { type: "string", default: "25MB" },
      runs: { type: "string", default: "5" },
      "lode-connections": { type: "string" },
      "lode-main": { type: "string", default: MAIN_TS },
      "lode-before": { type: "string" },
      "resume-test": { type: "boolean", default: false },
      out: { type: "string" },
      tmp: { type: "string" },
      "no-aria2": { type: "boolean", default: false },
      "no-sync-row": { type: "boolean", default: false },
      "no-sha256sum": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  const kinds: ScenarioKind[] = values.scenario === "all"
    ? ["unthrottled", "throttled"]
    : values.scenario === "unthrottled" || values.scenario === "throttled"
    ? [values.scenario]
    : (() => {
      throw new Error(`bad --scenario ${values.scenario} (all, unthrottled or throttled)`);
    })();
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`bad --runs ${values.runs}`);
  const throttle = parseSize(values.throttle);
  if (throttle < 1) throw new Error(`bad --throttle ${values.throttle}`);
  const lodeConnections = values["lode-connections"] === undefined
    ? undefined
    : Number(values["lode-connections"]);
  if (lodeConnections !== undefined && !(Number.isInteger(lodeConnections) && lodeConnections >= 1)) {
    throw new Error(`bad --lode-connections ${values["lode-connections"]}`);
  }
  const sizeOf = (kind: ScenarioKind) => parseSize(values.size ?? DEFAULT_SIZE[kind]);
  const notes: string[] = [];

  const nginx = await ensureBin("nginx", ["nginx-light", "nginx"], notes);
  if (!nginx) throw new Error("nginx is missing and could not be installed");
  const hasTime = await Deno.stat("/usr/bin/time").then(() => true, () => false);
  const time = hasTime || (await ensureBin("time", ["time"], notes)) ? "/usr/bin/time" : null;
  if (!time) notes.push("/usr/bin/time unavailable: no peak RSS nor CPU time");
  const aria2 = !values["no-aria2"] && (await ensureBin("aria2c", ["aria2"], notes)) !== null;
  if (!values["no-aria2"] && !aria2) notes.push("aria2c unavailable: its rows are left out");

  const work = await Deno.makeTempDir({ dir: values.tmp, prefix: "lode-bench-" });
  onCleanup(() => Deno.remove(work, { recursive: true }));
  await Deno.chmod(work, 0o755); // nginx's worker drops to nobody when started as root
  const ca = await makeTestCa(`${work}/ca`);
  const lodeMain = values["lode-main"];
  const lodeBefore = values["lode-before"];
  const env: Env = {
    work,
    nginx,
    ca,
    time,
    lode: { lodeMain, lodeBefore, connections: lodeConnections },
  };
  // Warm-up (untimed): deno's module cache for lode.
  await exec(Deno.execPath(), ["run", "-A", lodeMain, "--version"]);
  if (lodeBefore) await exec(Deno.execPath(), ["run", "-A", lodeBefore, "--version"]);
  const report: Record<string, unknown> = {
    deno: Deno.version.deno,
    lode_main: lodeMain,
    lode_before: lodeBefore ?? null,
    lode_connections: lodeConnections ?? "default",
  };

  if (values["resume-test"]) {
    report.resume_test = await runResume(env, { size: sizeOf("throttled"), throttle });
  } else {
    const loadStart = await loadAverage();
    const results: ScenarioResult[] = [];
    for (const kind of kinds) {
      results.push(
        await runScenario(env, kind, {
          size: sizeOf(kind),
          throttle,
          runs,
          aria2,
          syncRow: !values["no-sync-row"],
          noSha256sum: values["no-sha256sum"],
        }),
      );
    }
    notes.push(
      "origin file hot in page cache for every tool (nothing dropped); nginx and the client share the cores",
      "lode pull = `deno run -A main.ts`: deno startup (~0.1-0.2 s) is included; lode also fsyncs the blob",
      "nginx cannot sendfile() into a TLS socket without kernel TLS: it reads and encrypts in user space",
      "vs columns and ratio lines = ratios of median wall times; CPU s = user+sys, all processes",
      `lode connections: ${
        lodeConnections === undefined ? "lode's default (no --connections)" : lodeConnections
      }`,
      `load average (1 min) before the runs: ${loadStart} (the bench itself then adds ~2; a high value` +
        " here means other work shares the cores: expect noisy wall times, trust the CPU column more)",
    );
    if (kinds.includes("throttled")) {
      notes.push(
        "throttled: limit_rate applies per request, i.e. per connection; the pure hashing row is left out",
      );
    }
    console.log("");
    for (const n of notes) console.log(`note: ${n}`);
    report.runs = runs;
    report.scenarios = results.map((r) => r.json);
  }
  report.notes = notes;
  if (values.out) {
    await Deno.writeTextFile(values.out, JSON.stringify(report, null, 2) + "\n");
    console.error(`wrote ${values.out}`);
  }
}

if (import.meta.main) {
  let interrupted = false;
  const onSignal = async () => {
    interrupted = true;
    console.error("\ninterrupted: cleaning up");
    await cleanupAll();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let code = 0;
  try {
    await main(Deno.args);
  } catch (e) {
    if (!interrupted) console.error(`bench failed: ${e instanceof Error ? e.message : e}`);
    code = interrupted ? 130 : 1;
  } finally {
    await cleanupAll();
  }
  Deno.exit(code);
}
