/**
 * `deno task bench`: pull throughput of `lode pull` against the usual shell tools, all fetching the same
 * generated GGUF from a standalone nginx (HTTPS, test CA, `sendfile on`, `access_log off`) on 127.0.0.1.
 *
 * ```sh
 * deno task bench [--size 1GiB] [--runs 5] [--out bench.json] [--tmp DIR] [--no-aria2]
 * ```
 *
 * Rounds are interleaved (every tool once per round), each run into a fresh target directory that is
 * deleted afterwards; `sync` runs (untimed) before every timed run so no earlier writeback overlaps it.
 * Nothing is dropped from the page cache: the origin file is hot for every tool. Wall time is taken
 * around the child process; peak RSS comes from `/usr/bin/time -f "%e %M"` (for a pipeline: the largest
 * single process in it). Missing nginx / time / aria2c are installed with apt-get (said in the output).
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseSize, writeGgufModel } from "./gen_gguf.ts";
import { makeTestCa } from "../tests/support/test_ca.ts";

const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));
/** The reference row every other tool is compared with. */
export const BASELINE = "curl | tee | sha256sum";
/** The hashing limit row. */
export const HASH_LIMIT = "openssl dgst";

/** The measurements of one tool over all runs. */
export interface ToolSamples {
  tool: string;
  command: string;
  seconds: number[];
  /** Peak RSS per run in KiB, as `/usr/bin/time %M` reports it (null when unknown). */
  rssKib: (number | null)[];
}

/** One row of the report. Ratios are of median times (above 1 = slower than the reference). */
export interface ToolRow {
  tool: string;
  command: string;
  runs: number;
  median_s: number;
  min_s: number;
  /** Size / median time, MB = 10^6 bytes. */
  mb_per_s: number;
  /** Largest peak RSS over the runs, MB = 10^6 bytes (null when unknown). */
  peak_rss_mb: number | null;
  vs_curl_tee: number | null;
  vs_openssl: number | null;
}

/**
 * Median of a non-empty list (mean of the middle two for an even count).
 * @example
 * ```ts
 * median([3, 1, 2]); // 2
 * ```
 */
export function median(values: number[]): number {
  if (values.length === 0) throw new Error("median of nothing");
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Turns raw samples into report rows, with ratios against {@link BASELINE} and {@link HASH_LIMIT}.
 * @example
 * ```ts
 * const rows = summarise([{ tool: "openssl dgst", command: "…", seconds: [1, 2, 3], rssKib: [4000] }], 1e9);
 * rows[0]!.mb_per_s; // 500
 * ```
 */
export function summarise(samples: ToolSamples[], sizeBytes: number): ToolRow[] {
  const med = new Map(samples.map((s) => [s.tool, median(s.seconds)]));
  const ratio = (a: number, ref: string) => (med.has(ref) ? a / med.get(ref)! : null);
  return samples.map((s) => {
    const m = med.get(s.tool)!;
    const rss = s.rssKib.filter((r): r is number => r !== null);
    return {
      tool: s.tool,
      command: s.command,
      runs: s.seconds.length,
      median_s: m,
      min_s: Math.min(...s.seconds),
      mb_per_s: sizeBytes / 1e6 / m,
      peak_rss_mb: rss.length ? (Math.max(...rss) * 1024) / 1e6 : null,
      vs_curl_tee: ratio(m, BASELINE),
      vs_openssl: ratio(m, HASH_LIMIT),
    };
  });
}

/**
 * Renders rows as an aligned text table.
 * @example
 * ```ts
 * console.log(formatTable(summarise(samples, size)));
 * ```
 */
export function formatTable(rows: ToolRow[]): string {
  const f = (n: number | null, d: number) => (n === null ? "-" : n.toFixed(d));
  const head = ["tool", "median s", "min s", "MB/s", "peak RSS MB", "vs curl|tee", "vs openssl"];
  const body = rows.map((r) => [
    r.tool,
    f(r.median_s, 3),
    f(r.min_s, 3),
    f(r.mb_per_s, 0),
    f(r.peak_rss_mb, 1),
    f(r.vs_curl_tee, 2),
    f(r.vs_openssl, 2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

// ---------------------------------------------------------------------------------------------------------
// Processes, installs, nginx

const children = new Set<Deno.ChildProcess>();
const cleanups: (() => Promise<void> | void)[] = [];

async function cleanupAll(): Promise<void> {
  for (const c of children) {
    try {
      c.kill("SIGTERM");
    } catch { /* already gone */ }
  }
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => {});
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function exec(cmd: string, args: string[], env?: Record<string, string>): Promise<Ran> {
  const child = new Deno.Command(cmd, { args, env, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
  children.add(child);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    children.delete(child);
  }
}

async function which(bin: string): Promise<string | null> {
  const r = await exec("sh", [
    "-c",
    `command -v "$1" || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; }`,
    "sh",
    bin,
  ]);
  return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

let aptUpdated = false;
/** Finds `bin`, installing the first Debian package of `packages` that installs when missing. */
async function ensureBin(bin: string, packages: string[], notes: string[]): Promise<string | null> {
  const found = await which(bin);
  if (found) return found;
  const env = { ...Deno.env.toObject(), DEBIAN_FRONTEND: "noninteractive" };
  if (!aptUpdated) {
    console.error(`${bin} missing: running apt-get update`);
    await exec("apt-get", ["update", "-qq"], env);
    aptUpdated = true;
  }
  for (const pkg of packages) {
    console.error(`installing ${pkg} (apt-get install -y ${pkg})`);
    const r = await exec("apt-get", ["install", "-y", "-qq", "--no-install-recommends", pkg], env);
    const path = r.code === 0 ? await which(bin) : null;
    if (path) {
      notes.push(`${bin} was missing: installed Debian package ${pkg} with apt-get`);
      return path;
    }
    console.error(`apt-get install ${pkg} failed (exit ${r.code}): ${r.stderr.trim().slice(-400)}`);
  }
  return null;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}

/** Starts a standalone nginx (own prefix, config, pid and logs under `dir`) serving `www` over HTTPS. */
async function startNginx(
  nginx: string,
  dir: string,
  opts: { www: string; certPem: string; keyPem: string },
): Promise<{ url: string; version: string }> {
  const build = (await exec(nginx, ["-V"])).stderr;
  const version = /nginx version: (\S+)/.exec(build)?.[1] ?? "nginx";
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  await Deno.mkdir(`${dir}/tmp`, { recursive: true });
  await Deno.writeTextFile(`${dir}/leaf.crt`, opts.certPem);
  await Deno.writeTextFile(`${dir}/leaf.key`, opts.keyPem, { mode: 0o600 });
  const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .filter((m) => m === "client_body" || !build.includes(`--without-http_${m}_module`))
    .map((m) => `  ${m}_temp_path ${dir}/tmp/${m};`);
  const port = freePort();
  const conf = [
    "worker_processes 1;",
    "daemon off;",
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/logs/error.log warn;`,
    "events { worker_connections 64; }",
    "http {",
    "  access_log off;",
    "  sendfile on;",
    "  tcp_nopush on;",
    "  default_type application/octet-stream;",
    ...temps,
    "  server {",
    `    listen 127.0.0.1:${port} ssl;`,
    `    ssl_certificate ${dir}/leaf.crt;`,
    `    ssl_certificate_key ${dir}/leaf.key;`,
    `    root ${opts.www};`,
    "  }",
    "}",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/nginx.conf`, conf + "\n");
  const child = new Deno.Command(nginx, {
    args: ["-p", `${dir}/`, "-c", `${dir}/nginx.conf`, "-e", `${dir}/logs/error.log`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  children.add(child);
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  const errText = child.stderr.pipeThrough(new TextDecoderStream()).getReader().read()
    .then((r) => r.value ?? "").catch(() => "");
  cleanups.push(async () => {
    if (!exited) child.kill("SIGTERM");
    const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 5000);
    await status;
    clearTimeout(timer);
    children.delete(child);
  });
  for (let i = 0; i < 100 && !exited; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { url: `https://127.0.0.1:${port}`, version };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const log = await Deno.readTextFile(`${dir}/logs/error.log`).catch(() => "");
  throw new Error(`nginx did not start: ${await errText}\n${log}`);
}

// ---------------------------------------------------------------------------------------------------------
// The tools

interface Target {
  dir: string;
  url: string;
  ca: string;
  origin: string;
  sha256: string;
  size: number;
}

interface Tool {
  tool: string;
  command: string;
  argv: (t: Target) => string[];
  env?: (t: Target) => Record<string, string>;
  /** Checks the tool's own output; returns the file whose bytes must hash to the expected sha256. */
  check: (t: Target, stdout: string) => Promise<string | null>;
}

const printedHash = (what: string) => async (t: Target, stdout: string) => {
  if (!stdout.toLowerCase().includes(t.sha256)) throw new Error(`${what} printed ${stdout.trim()}`);
  return await Promise.resolve(`${t.dir}/f`);
};

function tools(withAria2: boolean, withSync: boolean): Tool[] {
  const list: Tool[] = [
    {
      tool: HASH_LIMIT,
      command: "openssl dgst -sha256 ORIGIN",
      argv: (t) => ["openssl", "dgst", "-sha256", t.origin],
      check: async (t, out) => (await printedHash("openssl")(t, out), null),
    },
    {
      tool: "curl -o f && sha256sum f",
      command: "curl -s --cacert CA -o f URL && sha256sum f",
      argv: (
        t,
      ) => [
        "sh",
        "-c",
        'curl -s --cacert "$1" -o "$2" "$3" && sha256sum "$2"',
        "sh",
        t.ca,
        `${t.dir}/f`,
        t.url,
      ],
      check: printedHash("sha256sum"),
    },
    {
      tool: BASELINE,
      command: "curl -s --cacert CA URL | tee f | sha256sum",
      argv: (
        t,
      ) => [
        "bash",
        "-o",
        "pipefail",
        "-c",
        'curl -s --cacert "$1" "$3" | tee "$2" | sha256sum',
        "sh",
        t.ca,
        `${t.dir}/f`,
        t.url,
      ],
      check: printedHash("sha256sum"),
    },
  ];
  if (withSync) {
    list.push({
      tool: "curl | tee | sha256sum; sync f",
      command: "curl -s --cacert CA URL | tee f | sha256sum && sync f   (fsync, as lode does)",
      argv: (t) => [
        "bash",
        "-o",
        "pipefail",
        "-c",
        'curl -s --cacert "$1" "$3" | tee "$2" | sha256sum && sync "$2"',
        "sh",
        t.ca,
        `${t.dir}/f`,
        t.url,
      ],
      check: printedHash("sha256sum"),
    });
  }
  list.push({
    tool: "lode pull",
    command: "deno run -A main.ts --store S --ca-cert CA pull URL#sha256=HEX --quiet",
    argv: (t) => [
      Deno.execPath(),
      ...["run", "-A", MAIN_TS, "--store", `${t.dir}/store`, "--ca-cert", t.ca],
      ...["pull", `${t.url}#sha256=${t.sha256}`, "--quiet"],
    ],
    env: (t) => ({ ...Deno.env.toObject(), NO_COLOR: "1", XDG_CONFIG_HOME: `${t.dir}/config` }),
    check: async (t) => {
      const manifest = JSON.parse(await Deno.readTextFile(`${t.dir}/store/manifests/m.json`));
      if (manifest.blob !== `sha256:${t.sha256}` || manifest.size_bytes !== t.size) {
        throw new Error(`lode manifest says ${manifest.blob} ${manifest.size_bytes}`);
      }
      return `${t.dir}/store/blobs/sha256/${t.sha256.slice(0, 2)}/${t.sha256}/data`;
    },
  });
  if (withAria2) {
    list.push({
      tool: "aria2c -x8",
      command: "aria2c -q -x8 -s8 --file-allocation=falloc --ca-certificate=CA --checksum=sha-256=HEX URL",
      argv: (t) => [
        "aria2c",
        ...["-q", "-x8", "-s8", "--file-allocation=falloc", `--ca-certificate=${t.ca}`],
        ...[`--checksum=sha-256=${t.sha256}`, "-d", t.dir, "-o", "f", t.url],
      ],
      check: (t) => Promise.resolve(`${t.dir}/f`),
    });
  }
  return list;
}

/** Runs one tool once under /usr/bin/time; returns wall seconds and peak RSS (KiB). */
async function runOnce(
  tool: Tool,
  t: Target,
  time: string | null,
): Promise<{ s: number; rss: number | null }> {
  const argv = tool.argv(t);
  const timeFile = `${t.dir}.time`;
  const [cmd, ...args] = time ? [time, "-o", timeFile, "-f", "%e %M", ...argv] : argv;
  const t0 = performance.now();
  const r = await exec(cmd!, args, tool.env?.(t));
  const s = (performance.now() - t0) / 1000;
  if (r.code !== 0) throw new Error(`${tool.tool} exited with ${r.code}: ${r.stderr.trim().slice(-800)}`);
  const file = await tool.check(t, r.stdout);
  if (file) {
    const { size } = await Deno.stat(file);
    const h = await exec("openssl", ["dgst", "-sha256", "-r", file]);
    if (size !== t.size || !h.stdout.startsWith(t.sha256)) {
      throw new Error(
        `${tool.tool} wrote ${size} bytes hashing to ${h.stdout.slice(0, 64)}, not ${t.sha256}`,
      );
    }
  }
  let rss: number | null = null;
  if (time) {
    const last = (await Deno.readTextFile(timeFile)).trim().split("\n").pop() ?? "";
    rss = Number(last.split(" ")[1]) || null;
    await Deno.remove(timeFile);
  }
  return { s, rss };
}

// ---------------------------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: "string", default: "1GiB" },
      runs: { type: "string", default: "5" },
      out: { type: "string" },
      tmp: { type: "string" },
      "no-aria2": { type: "boolean", default: false },
      "no-sync-row": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "deno task bench [--size 1GiB] [--runs 5] [--out FILE.json] [--tmp DIR] [--no-aria2] [--no-sync-row]",
    );
    return;
  }
  const size = parseSize(values.size);
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`bad --runs ${values.runs}`);
  const notes: string[] = [];

  const nginx = await ensureBin("nginx", ["nginx-light", "nginx"], notes);
  if (!nginx) throw new Error("nginx is missing and could not be installed");
  const time = (await Deno.stat("/usr/bin/time").then(() => true, () => false)) ||
      (await ensureBin("time", ["time"], notes))
    ? "/usr/bin/time"
    : null;
  if (!time) notes.push("/usr/bin/time unavailable: no peak RSS");
  const aria2 = !values["no-aria2"] && (await ensureBin("aria2c", ["aria2"], notes)) !== null;
  if (!values["no-aria2"] && !aria2) notes.push("aria2c unavailable: row skipped");

  const work = await Deno.makeTempDir({ dir: values.tmp, prefix: "lode-bench-" });
  cleanups.push(() => Deno.remove(work, { recursive: true }));
  await Deno.chmod(work, 0o755); // nginx workers drop to nobody when started as root
  await Deno.mkdir(`${work}/www`, { mode: 0o755 });
  const origin = `${work}/www/m.gguf`;
  console.error(`generating ${size} bytes at ${origin}`);
  const model = await writeGgufModel(origin, { sizeBytes: size, seed: 1 });
  await Deno.chmod(origin, 0o644);
  const ca = await makeTestCa(`${work}/ca`);
  const server = await startNginx(nginx, `${work}/nginx`, { www: `${work}/www`, ...ca });
  const url = `${server.url}/m.gguf`;
  console.error(`${server.version} serving ${url} (sha256 ${model.sha256})`);

  const list = tools(aria2, !values["no-sync-row"]);
  const samples: ToolSamples[] = list.map((t) => ({
    tool: t.tool,
    command: t.command,
    seconds: [],
    rssKib: [],
  }));
  // Warm-up (untimed): deno's module cache for lode, and one TLS fetch of the file.
  await exec(Deno.execPath(), ["run", "-A", MAIN_TS, "--version"]);
  await exec("curl", ["-s", "--cacert", ca.caCertPath, "-o", "/dev/null", url]);
  for (let round = 1; round <= runs; round++) {
    for (const [i, tool] of list.entries()) {
      const dir = `${work}/run`;
      await Deno.mkdir(dir);
      await exec("sync", []);
      const t: Target = { dir, url, ca: ca.caCertPath, origin, sha256: model.sha256, size: model.sizeBytes };
      const { s, rss } = await runOnce(tool, t, time);
      samples[i]!.seconds.push(s);
      samples[i]!.rssKib.push(rss);
      console.error(`round ${round}/${runs}  ${tool.tool.padEnd(32)} ${s.toFixed(3)} s  ${rss ?? "-"} KiB`);
      await Deno.remove(dir, { recursive: true });
    }
  }

  const rows = summarise(samples, model.sizeBytes);
  const lode = rows.find((r) => r.tool === "lode pull")!;
  notes.push(
    "origin file hot in page cache for every tool (nothing dropped); nginx and the client share the machine's cores",
    "lode pull = `deno run -A main.ts`, so deno startup (~0.1-0.2 s) is included; lode also fsyncs the blob",
    "TLS: nginx cannot sendfile() into a TLS socket without kTLS, so it reads and encrypts in user space",
    "vs columns = median time / reference median time (above 1 = slower)",
  );
  console.log(
    `\nfile ${model.sizeBytes} bytes (${
      (model.sizeBytes / 2 ** 20).toFixed(0)
    } MiB), ${runs} runs, ${server.version}`,
  );
  for (const r of rows) console.log(`  ${r.tool.padEnd(32)} ${r.command}`);
  console.log("\n" + formatTable(rows) + "\n");
  for (const n of notes) console.log(`note: ${n}`);
  const ratio = lode.vs_curl_tee;
  console.log(`\nlode / (curl|tee|sha256sum) = ${ratio?.toFixed(2)}`);
  console.log(`lode peak RSS = ${lode.peak_rss_mb === null ? "unknown" : Math.round(lode.peak_rss_mb)} MB`);
  if (values.out) {
    const report = {
      size_bytes: model.sizeBytes,
      sha256: model.sha256,
      runs,
      nginx: server.version,
      deno: Deno.version.deno,
      tools: rows.map((r, i) => ({ ...r, seconds: samples[i]!.seconds, rss_kib: samples[i]!.rssKib })),
      lode_vs_curl_tee: ratio,
      lode_peak_rss_mb: lode.peak_rss_mb,
      notes,
    };
    await Deno.writeTextFile(values.out, JSON.stringify(report, null, 2) + "\n");
    console.error(`wrote ${values.out}`);
  }
}

if (import.meta.main) {
  const onSignal = async () => {
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
    console.error(`bench failed: ${e instanceof Error ? e.message : e}`);
    code = 1;
  } finally {
    await cleanupAll();
  }
  Deno.exit(code);
}
