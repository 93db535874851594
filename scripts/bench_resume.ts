/**
 * `deno task bench --resume-test`: how much a killed-and-restarted `lode pull` fetches twice. lode pulls
 * the (throttled) file with `--json`; at half the file — by its `file_progress` events, or by the blocks
 * of its partial file, whichever says so first — it is SIGKILLed; then `lode pull` runs again to
 * completion and the result is checked. nginx's access log (`ACCESS_LOG_FORMAT` of bench_nginx.ts) then says how many
 * body bytes went out across both runs: everything above the file size was fetched twice. A lode that does
 * not resume yet shows ~50% refetched; one that resumes shows about the parts that were in flight.
 *
 * @example
 * ```ts
 * const summary = await resumeTest(target, { lodeMain, accessLog: `${work}/nginx/logs/access.log` });
 * for (const line of summary.lines) console.log(line);
 * ```
 * @module
 */
import { exec, spawnTracked } from "./bench_nginx.ts";
import {
  checkBytes,
  checkLodeStore,
  lodeArgv,
  lodeEnv,
  type LodeInvocation,
  type Target,
} from "./bench_tools.ts";

const MIB = 2 ** 20;

/** One line of nginx's access log, as `ACCESS_LOG_FORMAT` (bench_nginx.ts) writes it. */
export interface AccessEntry {
  /** When the request started, epoch seconds (`$msec - $request_time`). */
  startS: number;
  status: number;
  /** `$bytes_sent`: headers + body. */
  bytesSent: number;
  /** `$body_bytes_sent`. */
  bodyBytes: number;
  request: string;
  /** The `Range` header's first range, when there is one; `end` null for an open range (`bytes=N-`). */
  range: { start: number; end: number | null } | null;
}

/**
 * Parses an access log written in `ACCESS_LOG_FORMAT` (bench_nginx.ts); lines that do not match are skipped.
 * @example
 * ```ts
 * parseAccessLog('1700000001.5 0.5 206 1100 1024 "GET /m HTTP/1.1" "bytes=0-1023"\n')[0]!.range; // {start:0,end:1023}
 * ```
 */
export function parseAccessLog(text: string): AccessEntry[] {
  const out: AccessEntry[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\S+) (\S+) (\d+) (\d+) (\d+) "([^"]*)" "([^"]*)"$/.exec(line.trim());
    if (!m) continue;
    const r = /^bytes=(\d+)-(\d*)/.exec(m[7]!);
    out.push({
      startS: Number(m[1]) - Number(m[2]),
      status: Number(m[3]),
      bytesSent: Number(m[4]),
      bodyBytes: Number(m[5]),
      request: m[6]!,
      range: r ? { start: Number(r[1]), end: r[2] ? Number(r[2]) : null } : null,
    });
  }
  return out;
}

/** What nginx sent in each run of the resume test, and how much of it was sent twice. */
export interface RefetchSummary {
  sizeBytes: number;
  /**
   * Requests, body bytes of the file (200 and 206 responses only: an error page is not the file) and bytes
   * sent (everything, with headers) of run 1 (killed) and run 2 (to completion).
   */
  runs: { requests: number; bodyBytes: number; bytesSent: number; statuses: string }[];
  totalBodyBytes: number;
  /** Body bytes beyond the file size. */
  refetchedBytes: number;
  /** The part size: the most common closed range length of run 1 (else of both runs, else the file). */
  partBytes: number;
  /** True when no request had a closed range: lode fetched the file in one stream. */
  singleStream: boolean;
  /** `refetchedBytes / partBytes`. */
  parts: number;
}

/** E.g. `20×206, 1×416`. */
function statusCounts(es: AccessEntry[]): string {
  const counts = new Map<number, number>();
  for (const e of es) counts.set(e.status, (counts.get(e.status) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a - b).map(([status, n]) => `${n}×${status}`).join(", ");
}

function mode(values: number[]): number | null {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: number | null = null;
  for (const [v, n] of counts) {
    if (best === null || n > counts.get(best)! || (n === counts.get(best) && v > best)) best = v;
  }
  return best;
}

/**
 * Splits the log at `splitAtS` (the moment run 1 was killed: requests that started earlier are run 1's)
 * and sums what nginx sent.
 * @example
 * ```ts
 * const s = summariseRefetch(parseAccessLog(log), { sizeBytes: 256 * 2 ** 20, splitAtS: killedAt / 1000 });
 * s.refetchedBytes / 2 ** 20; // MiB fetched twice
 * ```
 */
export function summariseRefetch(
  entries: AccessEntry[],
  options: { sizeBytes: number; splitAtS: number },
): RefetchSummary {
  const runs = [0, 1].map((i) => entries.filter((e) => (e.startS < options.splitAtS) === (i === 0)));
  const sums = runs.map((es) => ({
    requests: es.length,
    bodyBytes: es.reduce((a, e) => a + (e.status === 200 || e.status === 206 ? e.bodyBytes : 0), 0),
    bytesSent: es.reduce((a, e) => a + e.bytesSent, 0),
    statuses: statusCounts(es),
  }));
  const closed = (es: AccessEntry[]) =>
    es.flatMap((e) => (e.range && e.range.end !== null ? [e.range.end - e.range.start + 1] : []));
  const part = mode(closed(runs[0]!)) ?? mode(closed(entries));
  const totalBodyBytes = sums[0]!.bodyBytes + sums[1]!.bodyBytes;
  const refetchedBytes = Math.max(0, totalBodyBytes - options.sizeBytes);
  const partBytes = part ?? options.sizeBytes;
  return {
    sizeBytes: options.sizeBytes,
    runs: sums,
    totalBodyBytes,
    refetchedBytes,
    partBytes,
    singleStream: part === null,
    parts: refetchedBytes / partBytes,
  };
}

/**
 * The printed line: `bytes fetched twice = N MiB (= K parts of P MiB)`.
 * @example
 * ```ts
 * refetchLine(summary); // "bytes fetched twice = 131.2 MiB (= 0.51 parts of 256.0 MiB; …)"
 * ```
 */
export function refetchLine(s: RefetchSummary): string {
  const mib = (n: number) => (n / MIB).toFixed(1);
  const kind = s.singleStream ? "; single stream: no ranged requests, a part = the whole file" : "";
  return `bytes fetched twice = ${mib(s.refetchedBytes)} MiB (= ${s.parts.toFixed(2)} parts of ${
    mib(s.partBytes)
  } MiB${kind})`;
}

/** Where run 1 was stopped, and by what signal of lode's progress. */
interface Killed {
  /** Epoch ms of the kill, or null when lode exited by itself first. */
  atMs: number | null;
  bytes: number;
  by: "file_progress" | "partial file" | "exited first";
  seconds: number;
  exit: string;
}

/** Blocks actually written under `dir` (sparse-aware; 0 when it does not exist yet). */
async function allocatedBytes(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || e.name === "state.json") continue;
      const st = await Deno.stat(`${dir}/${e.name}`).catch(() => null);
      total += (st?.blocks ?? 0) * 512;
    }
  } catch { /* not created yet */ }
  return total;
}

/** Runs lode with `--json` and SIGKILLs it once `killAt` bytes are reported or on disk. */
async function runAndKill(t: Target, lode: LodeInvocation, killAt: number): Promise<Killed> {
  const [cmd, ...args] = lodeArgv(t, { ...lode, extra: ["--json"] });
  const t0 = performance.now();
  const { child, stderr } = spawnTracked(cmd!, args, { env: lodeEnv(t) });
  let killed: Killed | null = null;
  const kill = (bytes: number, by: Killed["by"]) => {
    if (killed) return;
    killed = { atMs: Date.now(), bytes, by, seconds: (performance.now() - t0) / 1000, exit: "" };
    child.kill("SIGKILL");
  };
  const partial = `${t.dir}/store/blobs/sha256/${t.sha256.slice(0, 2)}/.partial-${t.sha256}`;
  let done = false;
  const poll = (async () => {
    while (!done && !killed) {
      const bytes = await allocatedBytes(partial);
      // A preallocated file (blocks = size at once) says nothing: only a partly written one counts.
      if (bytes >= killAt && bytes < t.size) kill(bytes, "partial file");
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  let pending = "";
  let lastBytes = 0;
  let failed: string | null = null;
  for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
    const lines = (pending + text).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      const e = (() => {
        try {
          return JSON.parse(line);
        } catch {
          return null;
        }
      })();
      if (e?.event === "failed") failed = line;
      if (e?.event !== "file_progress" || typeof e.downloaded_bytes !== "number") continue;
      lastBytes = e.downloaded_bytes;
      if (lastBytes >= killAt) kill(lastBytes, "file_progress");
    }
  }
  const status = await child.status;
  done = true;
  await poll;
  if (failed) throw new Error(`lode pull failed in run 1: ${failed}`);
  const exit = status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`;
  const result: Killed = killed ??
    { atMs: null, bytes: lastBytes, by: "exited first", seconds: (performance.now() - t0) / 1000, exit };
  result.exit = exit;
  if (result.by === "exited first" && status.code !== 0) {
    throw new Error(`lode pull ${exit} before it was killed: ${(await stderr).trim().slice(-800)}`);
  }
  return result;
}

/** Waits until the access log stops growing (nginx logs an aborted request when it notices the reset). */
async function settledLog(path: string): Promise<string> {
  let last = "";
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const text = await Deno.readTextFile(path).catch(() => "");
    if (text === last && text) return text;
    last = text;
  }
  return last;
}

/** The outcome of {@link resumeTest}: the printed lines and the numbers behind them. */
export interface ResumeReport {
  lines: string[];
  json: Record<string, unknown>;
}

/**
 * Runs the resume test on `t` (a fresh `t.dir`), nginx logging to `accessLog`: run 1 killed at half the
 * file, run 2 to completion (checked and re-hashed), then the access log summed.
 * @example
 * ```ts
 * const { lines } = await resumeTest(target, { lodeMain: "main.ts", accessLog });
 * ```
 */
export async function resumeTest(
  t: Target,
  options: LodeInvocation & { accessLog: string },
): Promise<ResumeReport> {
  const mib = (n: number) => (n / MIB).toFixed(1);
  const killed = await runAndKill(t, options, Math.ceil(t.size / 2));
  const t0 = performance.now();
  const [cmd, ...args] = lodeArgv(t, { ...options, extra: ["--json"] });
  const r = await exec(cmd!, args, { env: lodeEnv(t) });
  const run2S = (performance.now() - t0) / 1000;
  if (r.code !== 0) {
    throw new Error(`lode pull (run 2) exited with ${r.code}: ${r.stdout.trim().slice(-800)}`);
  }
  await checkBytes(await checkLodeStore(t), t, { what: "lode pull (run 2)" });
  const entries = parseAccessLog(await settledLog(options.accessLog));
  const s = summariseRefetch(entries, { sizeBytes: t.size, splitAtS: (killed.atMs ?? Date.now()) / 1000 });
  const [one, two] = s.runs;
  const lines = [
    killed.atMs === null
      ? `run 1: lode finished (${killed.exit}) in ${
        killed.seconds.toFixed(2)
      } s before it could be killed at` +
        ` 50%: nothing to resume, the test says nothing`
      : `run 1: SIGKILL at ${mib(killed.bytes)} MiB of ${mib(t.size)} MiB (${
        (100 * killed.bytes / t.size).toFixed(1)
      }%, seen in ${killed.by}) after ${killed.seconds.toFixed(2)} s (${killed.exit});` +
        ` nginx sent ${mib(one!.bodyBytes)} MiB of body in ${one!.requests} request(s) (${one!.statuses})`,
    `run 2: completed in ${run2S.toFixed(2)} s, blob sha256 checked; nginx sent ${mib(two!.bodyBytes)} MiB` +
    ` (${(100 * two!.bodyBytes / t.size).toFixed(1)}% of the file) in ${two!.requests} request(s) (${
      two!.statuses
    })`,
    `nginx sent ${mib(s.totalBodyBytes)} MiB of body across both runs (${
      one!.bytesSent + two!.bytesSent
    } bytes with headers) for a ${mib(t.size)} MiB file`,
    refetchLine(s),
  ];
  if (killed.atMs !== null) {
    lines.push(
      `  of which ~${mib(Math.max(0, one!.bodyBytes - killed.bytes))} MiB were in flight at the kill` +
        " (nginx counts bytes handed to the kernel; lode never saw them)",
    );
  }
  return {
    lines,
    json: {
      size_bytes: t.size,
      killed_at_bytes: killed.atMs === null ? null : killed.bytes,
      killed_by: killed.by,
      run1_seconds: killed.seconds,
      run2_seconds: run2S,
      runs: s.runs.map((x) => ({
        requests: x.requests,
        statuses: x.statuses,
        body_bytes: x.bodyBytes,
        bytes_sent: x.bytesSent,
      })),
      total_body_bytes: s.totalBodyBytes,
      refetched_bytes: s.refetchedBytes,
      part_bytes: s.partBytes,
      single_stream: s.singleStream,
      parts_refetched: s.parts,
      access_log: entries,
    },
  };
}
