/**
 * `deno task bench`: pull throughput of `lode pull` against the usual shell tools, all fetching the same
 * generated GGUF from a standalone nginx (HTTPS, test CA, `sendfile on`, `access_log off`) on 127.0.0.1.
 *
 * ```sh
 * deno task bench [--size 1GiB] [--runs 5] [--out bench.json] [--tmp DIR] [--no-aria2] [--no-sync-row]
 * ```
 *
 * Rounds are interleaved (every tool once per round), each run into a fresh target directory that is
 * deleted afterwards; `sync` runs (untimed) before every timed run so no earlier writeback overlaps it.
 * Nothing is dropped from the page cache: the origin file is hot for every tool. Wall time is taken
 * around the child process; peak RSS and CPU time come from `/usr/bin/time -f "%e %M %U %S"` (for a
 * pipeline: RSS of its largest process, CPU of all). Every result is re-hashed and checked. Missing
 * nginx / time / aria2c are installed with apt-get (said in the output). Ctrl-C cleans up.
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseSize, writeGgufModel } from "./gen_gguf.ts";
import { makeTestCa } from "../tests/support/test_ca.ts";
import { BASELINE, formatTable, HASH_LIMIT, summarise, type ToolSamples } from "./bench_report.ts";
import { cleanupAll, ensureBin, exec, onCleanup, startNginx } from "./bench_nginx.ts";

const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));
const LODE = "lode pull";

/** What one run of a tool works with. */
interface Target {
  /** Fresh, empty directory for this run's output. */
  dir: string;
  url: string;
  ca: string;
  /** The file nginx serves (for the local-hash row). */
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

/** A shell pipeline run by bash with pipefail; in `script`, $1 = CA file, $2 = output file, $3 = URL. */
function shell(script: string): (t: Target) => string[] {
  return (t) => ["bash", "-o", "pipefail", "-c", script, "bench", t.ca, `${t.dir}/f`, t.url];
}

function printedHash(what: string, file: boolean): Tool["check"] {
  return (t, stdout) => {
    if (!stdout.toLowerCase().includes(t.sha256)) throw new Error(`${what} printed ${stdout.trim()}`);
    return Promise.resolve(file ? `${t.dir}/f` : null);
  };
}

function tools(options: { aria2: boolean; syncRow: boolean }): Tool[] {
  const list: Tool[] = [
    {
      tool: HASH_LIMIT,
      command: "openssl dgst -sha256 ORIGIN",
      argv: (t) => ["openssl", "dgst", "-sha256", t.origin],
      check: printedHash("openssl", false),
    },
    {
      tool: "curl -o f && sha256sum f",
      command: "curl -s --cacert CA -o f URL && sha256sum f",
      argv: shell('curl -s --cacert "$1" -o "$2" "$3" && sha256sum "$2"'),
      check: printedHash("sha256sum", true),
    },
    {
      tool: BASELINE,
      command: "curl -s --cacert CA URL | tee f | sha256sum",
      argv: shell('curl -s --cacert "$1" "$3" | tee "$2" | sha256sum'),
      check: printedHash("sha256sum", true),
    },
  ];
  if (options.syncRow) {
    list.push({
      tool: "curl | tee | sha256sum; sync f",
      command: "curl -s --cacert CA URL | tee f | sha256sum && sync f   (fsync f, as lode fsyncs its blob)",
      argv: shell('curl -s --cacert "$1" "$3" | tee "$2" | sha256sum && sync "$2"'),
      check: printedHash("sha256sum", true),
    });
  }
  list.push({
    tool: LODE,
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
  if (options.aria2) {
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

interface Measured {
  s: number;
  rss: number | null;
  cpu: number | null;
}

/** Runs one tool once (under /usr/bin/time when there is one), then checks and re-hashes what it wrote. */
async function runOnce(tool: Tool, t: Target, time: string | null): Promise<Measured> {
  const argv = tool.argv(t);
  const timeFile = `${t.dir}.time`;
  const [cmd, ...args] = time ? [time, "-o", timeFile, "-f", "%e %M %U %S", ...argv] : argv;
  const t0 = performance.now();
  const r = await exec(cmd!, args, { env: tool.env?.(t) });
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
  if (!time) return { s, rss: null, cpu: null };
  // With a non-zero exit, time writes a line before the numbers: take the last line.
  const last = (await Deno.readTextFile(timeFile)).trim().split("\n").pop() ?? "";
  await Deno.remove(timeFile);
  const [, rss, user, sys] = last.split(" ").map(Number);
  const cpu = user! + sys!;
  return { s, rss: rss || null, cpu: Number.isFinite(cpu) ? cpu : null };
}

async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0]!;
}

const USAGE =
  "deno task bench [--size 1GiB] [--runs 5] [--out FILE.json] [--tmp DIR] [--no-aria2] [--no-sync-row]";

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
  if (values.help) return console.log(USAGE);
  const size = parseSize(values.size);
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`bad --runs ${values.runs}`);
  const notes: string[] = [];

  const nginx = await ensureBin("nginx", ["nginx-light", "nginx"], notes);
  if (!nginx) throw new Error("nginx is missing and could not be installed");
  const hasTime = await Deno.stat("/usr/bin/time").then(() => true, () => false);
  const time = hasTime || (await ensureBin("time", ["time"], notes)) ? "/usr/bin/time" : null;
  if (!time) notes.push("/usr/bin/time unavailable: no peak RSS nor CPU time");
  const aria2 = !values["no-aria2"] && (await ensureBin("aria2c", ["aria2"], notes)) !== null;
  if (!values["no-aria2"] && !aria2) notes.push("aria2c unavailable: its row is left out");

  const work = await Deno.makeTempDir({ dir: values.tmp, prefix: "lode-bench-" });
  onCleanup(() => Deno.remove(work, { recursive: true }));
  await Deno.chmod(work, 0o755); // nginx's worker drops to nobody when started as root
  await Deno.mkdir(`${work}/www`, { mode: 0o755 });
  const origin = `${work}/www/m.gguf`;
  console.error(`generating ${size} bytes at ${origin}`);
  const model = await writeGgufModel(origin, { sizeBytes: size, seed: 1 });
  await Deno.chmod(origin, 0o644);
  const ca = await makeTestCa(`${work}/ca`);
  const server = await startNginx(nginx, `${work}/nginx`, { www: `${work}/www`, ...ca });
  const url = `${server.url}/m.gguf`;
  console.error(`${server.version} serving ${url} (sha256 ${model.sha256})`);

  const loadStart = await loadAverage();
  const list = tools({ aria2, syncRow: !values["no-sync-row"] });
  const samples: ToolSamples[] = list.map((t) => ({
    tool: t.tool,
    command: t.command,
    seconds: [],
    rssKib: [],
    cpuS: [],
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
      const { s, rss, cpu } = await runOnce(tool, t, time);
      samples[i]!.seconds.push(s);
      samples[i]!.rssKib.push(rss);
      samples[i]!.cpuS!.push(cpu);
      const shown = `${s.toFixed(3)} s  cpu ${cpu?.toFixed(2) ?? "-"} s  ${rss ?? "-"} KiB`;
      console.error(`round ${round}/${runs}  ${tool.tool.padEnd(32)} ${shown}`);
      await Deno.remove(dir, { recursive: true });
    }
  }

  const rows = summarise(samples, model.sizeBytes);
  const lode = rows.find((r) => r.tool === LODE)!;
  notes.push(
    "origin file hot in page cache for every tool (nothing dropped); nginx and the client share the cores",
    "lode pull = `deno run -A main.ts`: deno startup (~0.1-0.2 s) is included; lode also fsyncs the blob",
    "nginx cannot sendfile() into a TLS socket without kernel TLS: it reads and encrypts in user space",
    "vs columns = median wall time / reference median (above 1 = slower); CPU s = user+sys, all processes",
    `load average (1 min) before the runs: ${loadStart} (the bench itself then adds ~2; a high value` +
      " here means other work shares the cores: expect noisy wall times, trust the CPU column more)",
  );
  const mib = (model.sizeBytes / 2 ** 20).toFixed(0);
  console.log(`\nfile ${model.sizeBytes} bytes (${mib} MiB), ${runs} runs, ${server.version}`);
  for (const r of rows) console.log(`  ${r.tool.padEnd(32)} ${r.command}`);
  console.log("\n" + formatTable(rows) + "\n");
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`\nlode / (curl|tee|sha256sum) = ${lode.vs_curl_tee?.toFixed(2)}`);
  console.log(`lode peak RSS = ${lode.peak_rss_mb === null ? "unknown" : Math.round(lode.peak_rss_mb)} MB`);
  if (values.out) {
    const report = {
      size_bytes: model.sizeBytes,
      sha256: model.sha256,
      runs,
      nginx: server.version,
      deno: Deno.version.deno,
      tools: rows.map((r, i) => ({
        ...r,
        seconds: samples[i]!.seconds,
        rss_kib: samples[i]!.rssKib,
        cpu_seconds: samples[i]!.cpuS,
      })),
      lode_vs_curl_tee: lode.vs_curl_tee,
      lode_peak_rss_mb: lode.peak_rss_mb,
      notes,
    };
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
