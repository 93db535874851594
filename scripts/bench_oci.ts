/**
 * `deno run -A scripts/bench_oci.ts`: lode against an OCI registry — Debian's docker-registry
 * (distribution 2.8, TLS with the test CA, htpasswd Basic auth, on 127.0.0.1, started as the tests start
 * it) — with a generated GGUF (default 1 GiB):
 *
 * - push: `lode push m oci://…` (chunked PATCHes, the manifest last) vs one monolithic `curl` upload of
 *   the same blob to the same registry (`POST /v2/REPO/blobs/uploads/`, then `curl -T FILE` — a `PUT
 *   ?digest=` streaming the file as the body); each run into a repository of its own, so the registry never has the blob there;
 * - pull: `lode pull oci://…` (the artifact lode pushed) vs `lode pull https://…#sha256=` of the same
 *   file from a standalone nginx (scripts/bench_nginx.ts), and `skopeo copy docker://… dir:D` of the
 *   artifact when skopeo is installed (it copies the blobs, checks their digests, and does no more; a
 *   second row fsyncs the blob afterwards, as lode does).
 *
 * ```sh
 * deno run -A scripts/bench_oci.ts [--size 1GiB] [--runs 3] [--out FILE.json] [--tmp DIR] [--no-skopeo] [--only 'push|upload']
 * ```
 *
 * Rounds are interleaved (every row once per round), each into a fresh directory deleted afterwards,
 * `sync` (untimed) before each run; wall time around the child process, peak RSS and CPU time from
 * `/usr/bin/time`; medians and ratios of medians. Targets: pull oci ≤ 1.2 × pull https (nginx); push ≤
 * 1.2 × curl. Every pulled file is re-hashed; every pushed blob is checked in the registry's storage.
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseSize, writeGgufModel } from "./gen_gguf.ts";
import { makeTestCa } from "../tests/support/test_ca.ts";
import { OCI_USER, startOciRegistry } from "../tests/support/oci_registry.ts";
import { summarise, type ToolRow, type ToolSamples } from "./bench_report.ts";
import { cleanupAll, ensureBin, exec, onCleanup, startNginx } from "./bench_nginx.ts";
import { checkBytes, type Measured, readTimeFile, type Target } from "./bench_tools.ts";

const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));
const USAGE =
  "deno run -A scripts/bench_oci.ts [--size 1GiB] [--runs 3] [--out FILE.json] [--tmp DIR] [--no-skopeo]";

/** One row of the bench: its argv for a run in `dir` (round `n`), and what checks its result. */
interface Row {
  tool: string;
  command: string;
  argv(dir: string, n: number): string[];
  env?: Record<string, string>;
  /** The file whose bytes must hash to the model's SHA-256, or null (checked otherwise). */
  check(dir: string, n: number): Promise<string | null>;
}

/** Runs `argv` under `/usr/bin/time` (when there is one); wall seconds, peak RSS KiB, CPU seconds. */
async function timed(
  argv: string[],
  env: Record<string, string> | undefined,
  time: string | null,
  what: string,
) {
  const timeFile = await Deno.makeTempFile();
  const [cmd, ...args] = time ? [time, "-o", timeFile, "-f", "%e %M %U %S", ...argv] : argv;
  const t0 = performance.now();
  const r = await exec(cmd!, args, { env: env ? { ...Deno.env.toObject(), ...env } : undefined });
  const s = (performance.now() - t0) / 1000;
  if (r.code !== 0) {
    throw new Error(`${what} exited with ${r.code}: ${(r.stderr + r.stdout).trim().slice(-800)}`);
  }
  let out: Measured = { s, rss: null, cpu: null, sys: null };
  if (time) out = await readTimeFile(timeFile, s);
  else await Deno.remove(timeFile);
  return { ...out, stdout: r.stdout };
}

/** The rows as an aligned table (bench_report's columns without its nginx-bench ratios). */
function formatRows(rows: ToolRow[]): string {
  const f = (n: number | null, d: number) => (n === null ? "-" : n.toFixed(d));
  const head = ["tool", "median s", "min s", "MB/s", "CPU s", "peak RSS MB"];
  const body = rows.map((
    r,
  ) => [r.tool, f(r.median_s, 3), f(r.min_s, 3), f(r.mb_per_s, 0), f(r.cpu_s, 2), f(r.peak_rss_mb, 1)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: "string", default: "1GiB" },
      runs: { type: "string", default: "3" },
      out: { type: "string" },
      tmp: { type: "string" },
      "no-skopeo": { type: "boolean", default: false },
      only: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`bad --runs ${values.runs}`);
  const size = parseSize(values.size);
  const notes: string[] = [];
  const nginx = await ensureBin("nginx", ["nginx-light", "nginx"], notes);
  if (!nginx) throw new Error("nginx is missing and could not be installed");
  for (const [bin, pkg] of [["docker-registry", "docker-registry"], ["htpasswd", "apache2-utils"]]) {
    if (!(await ensureBin(bin!, [pkg!], notes))) {
      throw new Error(`${bin} is missing (apt-get install ${pkg})`);
    }
  }
  const skopeo = !values["no-skopeo"] && (await ensureBin("skopeo", ["skopeo"], notes)) !== null;
  const time = (await Deno.stat("/usr/bin/time").then(() => true, () => false)) ? "/usr/bin/time" : null;
  if (!time) notes.push("/usr/bin/time unavailable: no peak RSS nor CPU time");

  const work = await Deno.makeTempDir({ dir: values.tmp, prefix: "lode-bench-oci-" });
  onCleanup(() => Deno.remove(work, { recursive: true }));
  await Deno.chmod(work, 0o755); // nginx's worker drops to nobody when started as root
  const ca = await makeTestCa(`${work}/ca`);
  const www = `${work}/www`;
  await Deno.mkdir(www, { mode: 0o755 });
  const origin = `${www}/m.gguf`;
  console.error(`generating ${size} bytes at ${origin}`);
  const model = await writeGgufModel(origin, { sizeBytes: size, seed: 1 });
  await Deno.chmod(origin, 0o644);
  const server = await startNginx(nginx, `${work}/nginx`, { www, certPem: ca.certPem, keyPem: ca.keyPem });
  const reg = await startOciRegistry({ dir: `${work}/registry`, auth: "basic", ca });
  onCleanup(async () => await reg[Symbol.asyncDispose]());
  const creds = { LODE_OCI_USERNAME: OCI_USER.username, LODE_OCI_PASSWORD: OCI_USER.password };
  const digest = `sha256:${model.sha256}`;
  const lode = (store: string, ...args: string[]) => [
    Deno.execPath(),
    ...["run", "-A", MAIN_TS, "--store", store, "--ca-cert", ca.caCertPath, ...args, "--quiet"],
  ];
  const env = { NO_COLOR: "1", XDG_CONFIG_HOME: `${work}/config`, ...creds };

  // The source store (untimed): the model imported once; the artifact every oci pull reads, pushed once.
  const source = `${work}/source`;
  await timed(lode(source, "import", origin, "--name", "m"), env, null, "the import");
  const pullRef = `oci://${reg.host}/bench/pull:v1`;
  await timed(lode(source, "push", "m", pullRef), env, null, "the first push");
  const certDir = `${work}/certs`;
  await Deno.mkdir(certDir);
  await Deno.copyFile(ca.caCertPath, `${certDir}/ca.crt`);

  const pushedBlob = async (repo: string) => {
    const head = await reg.request("HEAD", `/v2/${repo}/blobs/${digest}`);
    if (head.status !== 200) throw new Error(`${repo} lacks ${digest} after the push (HTTP ${head.status})`);
    return reg.blobPath(digest);
  };
  const curlScript = [
    'loc=$(curl -sS --fail --cacert "$1" -u "$2" -X POST -o /dev/null -w "%header{location}" "$3/v2/$4/blobs/uploads/")',
    'case "$loc" in http*) ;; *) loc="$3$loc" ;; esac',
    'case "$loc" in *\\?*) sep="&" ;; *) sep="?" ;; esac',
    'curl -sS --fail --cacert "$1" -u "$2" -T "$5" -H "Content-Type: application/octet-stream" -o /dev/null "$loc${sep}digest=$6"',
  ].join("\n");
  const rows: Row[] = [
    {
      tool: "lode push",
      command: "deno run -A main.ts --store S --ca-cert CA push m oci://HOST/bench/push-lode-N:v1 --quiet",
      argv: (_dir, n) => lode(source, "push", "m", `oci://${reg.host}/bench/push-lode-${n}:v1`),
      env,
      check: async (_dir, n) => await pushedBlob(`bench/push-lode-${n}`),
    },
    {
      tool: "curl upload (monolithic)",
      command:
        "curl -X POST …/blobs/uploads/ ; curl -T FILE LOCATION&digest=D   (PUT, streamed from the file)",
      argv: (_dir, n) => [
        "bash",
        ...["-o", "pipefail", "-c", curlScript, "bench", ca.caCertPath],
        `${OCI_USER.username}:${OCI_USER.password}`,
        `https://${reg.host}`,
        `bench/push-curl-${n}`,
        origin,
        digest,
      ],
      check: async (_dir, n) => await pushedBlob(`bench/push-curl-${n}`),
    },
    {
      tool: "lode pull oci://",
      command: "deno run -A main.ts --store S --ca-cert CA pull oci://HOST/bench/pull:v1 --name m --quiet",
      argv: (dir) => lode(`${dir}/store`, "pull", pullRef, "--name", "m"),
      env,
      check: (dir) =>
        Promise.resolve(`${dir}/store/blobs/sha256/${model.sha256.slice(0, 2)}/${model.sha256}/data`),
    },
    {
      tool: "lode pull https:// (nginx)",
      command: "deno run -A main.ts --store S --ca-cert CA pull https://NGINX/m.gguf#sha256=HEX --quiet",
      argv: (dir) => lode(`${dir}/store`, "pull", `${server.url}/m.gguf#sha256=${model.sha256}`),
      env,
      check: (dir) =>
        Promise.resolve(`${dir}/store/blobs/sha256/${model.sha256.slice(0, 2)}/${model.sha256}/data`),
    },
  ];
  if (skopeo) {
    rows.push({
      tool: "skopeo copy",
      command: "skopeo copy --src-cert-dir C --src-creds U:P docker://HOST/bench/pull:v1 dir:D",
      argv: (dir) => [
        "skopeo",
        ...[
          "copy",
          "-q",
          "--src-cert-dir",
          certDir,
          "--src-creds",
          `${OCI_USER.username}:${OCI_USER.password}`,
        ],
        `docker://${reg.host}/bench/pull:v1`,
        `dir:${dir}/skopeo`,
      ],
      check: (dir) => Promise.resolve(`${dir}/skopeo/${model.sha256}`),
    }, {
      tool: "skopeo copy; sync f",
      command: "skopeo copy … dir:D && sync D/HEX   (the blob fsynced, as lode fsyncs it)",
      argv: (dir) => [
        "bash",
        ...[
          "-o",
          "pipefail",
          "-c",
          'skopeo copy -q --src-cert-dir "$1" --src-creds "$2" "$3" "dir:$4" && sync "$4/$5"',
        ],
        ...[
          "bench",
          certDir,
          `${OCI_USER.username}:${OCI_USER.password}`,
          `docker://${reg.host}/bench/pull:v1`,
        ],
        ...[`${dir}/skopeo`, model.sha256],
      ],
      check: (dir) => Promise.resolve(`${dir}/skopeo/${model.sha256}`),
    });
  }
  if (values.only) rows.splice(0, rows.length, ...rows.filter((r) => new RegExp(values.only!).test(r.tool)));
  const samples: ToolSamples[] = rows.map((r) => ({
    tool: r.tool,
    command: r.command,
    seconds: [],
    rssKib: [],
    cpuS: [],
  }));
  const target: Target = {
    dir: "",
    url: "",
    ca: ca.caCertPath,
    origin,
    sha256: model.sha256,
    size: model.sizeBytes,
  };
  for (let round = 1; round <= runs; round++) {
    for (const [i, row] of rows.entries()) {
      const dir = `${work}/run`;
      await Deno.mkdir(dir);
      await exec("sync", []);
      let m;
      try {
        m = await timed(row.argv(dir, round), row.env, time, row.tool);
      } catch (e) {
        if (!row.tool.startsWith("skopeo")) throw e;
        notes.push(`skopeo copy could not copy the artifact: ${(e as Error).message.slice(0, 300)}`);
        rows.splice(i, 1);
        samples.splice(i, 1);
        await Deno.remove(dir, { recursive: true });
        break;
      }
      const file = await row.check(dir, round);
      if (file) await checkBytes(file, target, { what: row.tool });
      samples[i]!.seconds.push(m.s);
      samples[i]!.rssKib.push(m.rss);
      samples[i]!.cpuS!.push(m.cpu);
      const shown = `${m.s.toFixed(3)} s  cpu ${m.cpu?.toFixed(2) ?? "-"} s  ${m.rss ?? "-"} KiB`;
      console.error(`round ${round}/${runs}  ${row.tool.padEnd(28)} ${shown}`);
      await Deno.remove(dir, { recursive: true });
    }
  }
  const table = summarise(samples, model.sizeBytes);
  const med = (tool: string) => table.find((r) => r.tool === tool)?.median_s ?? null;
  const ratio = (a: string, b: string) => {
    const x = med(a), y = med(b);
    return x === null || y === null ? null : x / y;
  };
  const lines: { key: string; value: number | null; line: string }[] = [];
  const add = (key: string, label: string, value: number | null, target?: number) => {
    const shown = value === null ? "n/a" : value.toFixed(2);
    const tail = target === undefined || value === null
      ? ""
      : ` (target <= ${target}: ${value <= target ? "met" : "MISSED"})`;
    lines.push({ key, value, line: `${label} = ${shown}${tail}` });
  };
  add("push_lode_over_curl", "lode push / curl upload", ratio("lode push", "curl upload (monolithic)"), 1.2);
  add(
    "pull_oci_over_https",
    "lode pull oci:// / lode pull https://",
    ratio("lode pull oci://", "lode pull https:// (nginx)"),
    1.2,
  );
  add("skopeo_over_pull_oci", "skopeo copy / lode pull oci://", ratio("skopeo copy", "lode pull oci://"));
  add(
    "skopeo_sync_over_pull_oci",
    "skopeo copy; sync f / lode pull oci://",
    ratio("skopeo copy; sync f", "lode pull oci://"),
  );
  const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0];
  console.log(
    `\n== OCI: file ${model.sizeBytes} bytes (${
      (model.sizeBytes / 2 ** 20).toFixed(0)
    } MiB), ${runs} run(s), ${server.version}, docker-registry (distribution)`,
  );
  for (const r of table) console.log(`  ${r.tool.padEnd(28)} ${r.command}`);
  console.log("\n" + formatRows(table) + "\n");
  for (const l of lines) console.log(l.line);
  notes.push(
    "registry and nginx on 127.0.0.1 with TLS (test CA); the model file hot in page cache",
    "lode rows = `deno run -A main.ts` (deno startup included); lode push also records a job",
    `load average (1 min) at the end: ${load} (2 cores shared: trust ratios over seconds)`,
  );
  for (const n of notes) console.log(`note: ${n}`);
  if (values.out) {
    const report = {
      size_bytes: model.sizeBytes,
      runs,
      nginx: server.version,
      tools: table.map((r, i) => ({ ...r, seconds: samples[i]!.seconds, cpu_seconds: samples[i]!.cpuS })),
      ratios: Object.fromEntries(lines.map((l) => [l.key, l.value])),
      ratio_lines: lines.map((l) => l.line),
      notes,
    };
    await Deno.writeTextFile(values.out, JSON.stringify(report, null, 2) + "\n");
  }
}

if (import.meta.main) {
  const onSignal = async () => {
    await cleanupAll();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
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
