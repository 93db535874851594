/**
 * The contenders of `deno task bench` (scripts/bench_pull.ts) — the shell tools, aria2c and `lode pull` —
 * and how one of them is run once: under `/usr/bin/time`, into a fresh directory, its output re-hashed.
 *
 * @example
 * ```ts
 * const list = benchTools({ hashRow: true, syncRow: false, aria2: true, lodeMain: "main.ts" });
 * const { s, rss, cpu, sys } = await runOnce(list[0]!, target, { time: "/usr/bin/time" });
 * ```
 * @module
 */
import { BASELINE, CURLS_16, HASH_LIMIT, LODE, LODE_BEFORE } from "./bench_report.ts";
import { exec } from "./bench_nginx.ts";

/** What one run of a tool works with. */
export interface Target {
  /** Fresh, empty directory for this run's output. */
  dir: string;
  url: string;
  ca: string;
  /** The file nginx serves (for the local-hash row). */
  origin: string;
  sha256: string;
  size: number;
}

/** One contender. */
export interface Tool {
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

/** How `lode pull` is run by the bench (and by the resume test). */
export interface LodeInvocation {
  /** The `main.ts` to run with `deno run -A`. */
  lodeMain: string;
  /** Passed as `--connections N` only when set; otherwise lode picks its default. */
  connections?: number;
}

/**
 * The argv of `lode pull` for a target: its own store under `t.dir`, the test CA, the URL pinned with
 * `#sha256=`, plus `extra` (e.g. `--quiet` or `--json`).
 * @example
 * ```ts
 * const [cmd, ...args] = lodeArgv(target, { lodeMain: "main.ts", extra: ["--json"] });
 * ```
 */
export function lodeArgv(t: Target, options: LodeInvocation & { extra: string[] }): string[] {
  const connections = options.connections === undefined ? [] : ["--connections", `${options.connections}`];
  return [
    Deno.execPath(),
    ...["run", "-A", options.lodeMain, "--store", `${t.dir}/store`, "--ca-cert", t.ca, ...connections],
    ...["pull", `${t.url}#sha256=${t.sha256}`, ...options.extra],
  ];
}

/**
 * The environment lode runs in: no colour, a config dir of its own, and no `LODE_CONNECTIONS` (lode's
 * default applies unless `--lode-connections` was given).
 * @example
 * ```ts
 * new Deno.Command(cmd, { args, env: lodeEnv(target) });
 * ```
 */
export function lodeEnv(t: Target): Record<string, string> {
  const env: Record<string, string> = {
    ...Deno.env.toObject(),
    NO_COLOR: "1",
    XDG_CONFIG_HOME: `${t.dir}/config`,
  };
  delete env.LODE_CONNECTIONS;
  return env;
}

/**
 * Checks what `lode pull` left in its store: the manifest names the expected blob and size. Returns the
 * blob's path.
 * @example
 * ```ts
 * const blob = await checkLodeStore(target);
 * ```
 */
export async function checkLodeStore(t: Target): Promise<string> {
  const manifest = JSON.parse(await Deno.readTextFile(`${t.dir}/store/manifests/m.json`));
  if (manifest.blob !== `sha256:${t.sha256}` || manifest.size_bytes !== t.size) {
    throw new Error(`lode manifest says ${manifest.blob} ${manifest.size_bytes}`);
  }
  return `${t.dir}/store/blobs/sha256/${t.sha256.slice(0, 2)}/${t.sha256}/data`;
}

function aria2(connections: number): Tool {
  const x = `-x${connections}`;
  const s = `-s${connections}`;
  return {
    tool: `aria2c ${x}`,
    command:
      `aria2c -q ${x} ${s} -k1M --file-allocation=falloc --ca-certificate=CA --checksum=sha-256=HEX URL`,
    argv: (t) => [
      "aria2c",
      ...["-q", x, s, "-k1M", "--file-allocation=falloc", `--ca-certificate=${t.ca}`],
      ...[`--checksum=sha-256=${t.sha256}`, "-d", t.dir, "-o", "f", t.url],
    ],
    check: (t) => Promise.resolve(`${t.dir}/f`),
  };
}

/**
 * The origin's ceiling for many connections: `n` curls fetch `n` equal ranges at once into part files,
 * then the parts are concatenated into `f` and hashed (every row's output is verified).
 */
function rangedCurls(n: number): Tool {
  const script = `size=$4; n=$5; part=$(( (size + n - 1) / n )); parts=(); pids=()
for ((i = 0; i * part < size; i++)); do
  s=$(( i * part )); e=$(( s + part - 1 )); (( e >= size )) && e=$(( size - 1 ))
  curl -s --cacert "$1" -r "$s-$e" -o "$2.$i" "$3" & pids+=($!); parts+=("$2.$i")
done
for p in "\${pids[@]}"; do wait "$p" || exit 1; done
cat "\${parts[@]}" > "$2" && rm -f "\${parts[@]}" && openssl dgst -sha256 "$2"`;
  return {
    tool: CURLS_16,
    command: `${n}x curl -s --cacert CA -r RANGE -o f.I URL (at once); cat f.* > f && openssl dgst -sha256 f`,
    argv: (
      t,
    ) => ["bash", "-o", "pipefail", "-c", script, "bench", t.ca, `${t.dir}/f`, t.url, `${t.size}`, `${n}`],
    check: printedHash("openssl", true),
  };
}

/** Which rows {@link benchTools} includes. */
export interface ToolChoice extends LodeInvocation {
  /** The pure hashing row (`openssl dgst` of the file nginx serves): the hashing limit. */
  hashRow: boolean;
  /** `curl | tee | sha256sum && sync f` (as lode fsyncs its blob). */
  syncRow: boolean;
  /** The two aria2c rows (-x8, -x16). */
  aria2: boolean;
  /** The 16 ranged curls at once (the origin's ceiling for many connections; the throttled scenario). */
  curls16?: boolean;
  /** Another lode `main.ts` (an earlier tree) run in every round right before this one's. */
  lodeBefore?: string;
  /** Leaves out the `sha256sum` rows (`curl -o f && sha256sum f`, `curl | tee f | sha256sum`). */
  noSha256sum?: boolean;
}

/**
 * The contenders, in the order they run each round.
 * @example
 * ```ts
 * benchTools({ hashRow: false, syncRow: false, aria2: true, lodeMain: "main.ts", connections: 16 });
 * ```
 */
export function benchTools(choice: ToolChoice): Tool[] {
  const list: Tool[] = [];
  if (choice.hashRow) {
    list.push({
      tool: HASH_LIMIT,
      command: "openssl dgst -sha256 ORIGIN   (the file nginx serves, in page cache: no download)",
      argv: (t) => ["openssl", "dgst", "-sha256", t.origin],
      check: printedHash("openssl", false),
    });
  }
  list.push(
    {
      tool: "curl -o f && openssl dgst f",
      command: "curl -s --cacert CA -o f URL && openssl dgst -sha256 f",
      argv: shell('curl -s --cacert "$1" -o "$2" "$3" && openssl dgst -sha256 "$2"'),
      check: printedHash("openssl", true),
    },
  );
  if (!choice.noSha256sum) {
    list.push({
      tool: "curl -o f && sha256sum f",
      command: "curl -s --cacert CA -o f URL && sha256sum f",
      argv: shell('curl -s --cacert "$1" -o "$2" "$3" && sha256sum "$2"'),
      check: printedHash("sha256sum", true),
    }, {
      tool: BASELINE,
      command: "curl -s --cacert CA URL | tee f | sha256sum",
      argv: shell('curl -s --cacert "$1" "$3" | tee "$2" | sha256sum'),
      check: printedHash("sha256sum", true),
    });
  }
  if (choice.syncRow) {
    list.push({
      tool: "curl | tee | sha256sum; sync f",
      command: "curl -s --cacert CA URL | tee f | sha256sum && sync f   (fsync f, as lode fsyncs its blob)",
      argv: shell('curl -s --cacert "$1" "$3" | tee "$2" | sha256sum && sync "$2"'),
      check: printedHash("sha256sum", true),
    });
  }
  if (choice.aria2) list.push(aria2(8), aria2(16));
  if (choice.curls16) list.push(rangedCurls(16));
  const [flag, note] = choice.connections === undefined
    ? ["", "   (lode's default connections)"]
    : [` --connections ${choice.connections}`, ""];
  if (choice.lodeBefore) {
    const before = choice.lodeBefore;
    list.push({
      tool: LODE_BEFORE,
      command: `deno run -A ${before} … pull URL#sha256=HEX --quiet   (the same, from the tree given)`,
      argv: (t) => lodeArgv(t, { ...choice, lodeMain: before, extra: ["--quiet"] }),
      env: lodeEnv,
      check: checkLodeStore,
    });
  }
  list.push({
    tool: LODE,
    command: `deno run -A main.ts --store S --ca-cert CA${flag} pull URL#sha256=HEX --quiet${note}`,
    argv: (t) => lodeArgv(t, { ...choice, extra: ["--quiet"] }),
    env: lodeEnv,
    check: checkLodeStore,
  });
  return list;
}

/** Wall time, peak RSS (KiB) and CPU time (s) of one run; null when `/usr/bin/time` is missing. */
export interface Measured {
  s: number;
  rss: number | null;
  /** User + system seconds. */
  cpu: number | null;
  /** System seconds alone: the kernel's share (page-cache copies, the network stack). */
  sys: number | null;
}

/**
 * Checks that `file` holds exactly the target's bytes (size, then `openssl dgst`); throws otherwise.
 * @example
 * ```ts
 * await checkBytes(`${dir}/f`, target, { what: "aria2c -x8" });
 * ```
 */
export async function checkBytes(file: string, t: Target, options: { what: string }): Promise<void> {
  const { size } = await Deno.stat(file);
  const h = await exec("openssl", ["dgst", "-sha256", "-r", file]);
  if (size !== t.size || !h.stdout.startsWith(t.sha256)) {
    throw new Error(
      `${options.what} wrote ${size} bytes hashing to ${h.stdout.slice(0, 64)}, not ${t.sha256}`,
    );
  }
}

/**
 * Runs one tool once (under `time`, i.e. `/usr/bin/time`, when there is one), then checks and re-hashes
 * what it wrote.
 * @example
 * ```ts
 * const { s } = await runOnce(tool, target, { time: null });
 * ```
 */
export async function runOnce(tool: Tool, t: Target, options: { time: string | null }): Promise<Measured> {
  const { time } = options;
  const argv = tool.argv(t);
  const timeFile = `${t.dir}.time`;
  const [cmd, ...args] = time ? [time, "-o", timeFile, "-f", "%e %M %U %S", ...argv] : argv;
  const t0 = performance.now();
  const r = await exec(cmd!, args, { env: tool.env?.(t) });
  const s = (performance.now() - t0) / 1000;
  if (r.code !== 0) throw new Error(`${tool.tool} exited with ${r.code}: ${r.stderr.trim().slice(-800)}`);
  const file = await tool.check(t, r.stdout);
  if (file) await checkBytes(file, t, { what: tool.tool });
  if (!time) return { s, rss: null, cpu: null, sys: null };
  return await readTimeFile(timeFile, s);
}

/**
 * The measurement `/usr/bin/time -o FILE -f "%e %M %U %S"` wrote to `timeFile` (then removed), with the wall
 * time `s` measured by the caller. With a non-zero exit, time writes a line before the numbers: the last line
 * is read.
 * @example
 * ```ts
 * const m = await readTimeFile(`${dir}.time`, 2.5); // { s: 2.5, rss: 12500, cpu: 2.4, sys: 1.1 }
 * ```
 */
export async function readTimeFile(timeFile: string, s: number): Promise<Measured> {
  const last = (await Deno.readTextFile(timeFile)).trim().split("\n").pop() ?? "";
  await Deno.remove(timeFile);
  const [, rss, user, sys] = last.split(" ").map(Number);
  const cpu = user! + sys!;
  return {
    s,
    rss: rss || null,
    cpu: Number.isFinite(cpu) ? cpu : null,
    sys: Number.isFinite(sys) ? sys! : null,
  };
}
