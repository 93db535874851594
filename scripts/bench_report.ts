/**
 * The arithmetic and the table of `deno task bench` (scripts/bench_pull.ts): medians, throughput and
 * ratios against the two reference rows, rendered as an aligned text table, and the per-scenario ratio
 * lines the download-engine issue sets targets for ({@link verdicts}).
 *
 * @example
 * ```ts
 * const rows = summarise([{ tool: "openssl dgst", command: "…", seconds: [1, 2, 3], rssKib: [6000] }], 1e9);
 * console.log(formatTable(rows));
 * ```
 * @module
 */

/** The reference row every other tool is compared with. */
export const BASELINE = "curl | tee | sha256sum";
/** The hashing-limit row. */
export const HASH_LIMIT = "openssl dgst";
/** The row of lode. */
export const LODE = "lode pull";
/** The row of `--lode-before`: the same pull from another tree, run right before {@link LODE}. */
export const LODE_BEFORE = "lode pull (before)";
/** The two-pass row: download, then hash the file. */
export const CURL_OPENSSL = "curl -o f && openssl dgst f";
/** The ceiling row of the throttled scenario: 16 ranged curls at once, then assembled and hashed. */
export const CURLS_16 = "16 curls -r (ceiling)";
/** The row of the aria2c with the most connections. */
export const ARIA2_X16 = "aria2c -x16";

/** The measurements of one tool over all runs. */
export interface ToolSamples {
  tool: string;
  command: string;
  /** Wall seconds per run. */
  seconds: number[];
  /** Peak RSS per run in KiB, as `/usr/bin/time %M` reports it (null when unknown). */
  rssKib: (number | null)[];
  /** User + system CPU seconds per run, all processes of the command (null when unknown). */
  cpuS?: (number | null)[];
  /** The server's (nginx's) user + system CPU seconds during each run. */
  serverCpuS?: number[];
  /** System CPU seconds per run, the kernel's share of `cpuS` (null when unknown). */
  sysS?: (number | null)[];
}

/** One row of the report. Ratios are of median wall times (above 1 = slower than the reference). */
export interface ToolRow {
  tool: string;
  command: string;
  runs: number;
  median_s: number;
  min_s: number;
  /** Size / median time, MB = 10^6 bytes. */
  mb_per_s: number;
  /** Median user + system CPU seconds (null when unknown): steadier than wall time on a shared machine. */
  cpu_s: number | null;
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
    const cpu = (s.cpuS ?? []).filter((c): c is number => c !== null);
    return {
      tool: s.tool,
      command: s.command,
      runs: s.seconds.length,
      median_s: m,
      min_s: Math.min(...s.seconds),
      mb_per_s: sizeBytes / 1e6 / m,
      cpu_s: cpu.length ? median(cpu) : null,
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
  const head = ["tool", "median s", "min s", "MB/s", "CPU s", "peak RSS MB", "vs curl|tee", "vs openssl"];
  const body = rows.map((r) => [
    r.tool,
    f(r.median_s, 3),
    f(r.min_s, 3),
    f(r.mb_per_s, 0),
    f(r.cpu_s, 2),
    f(r.peak_rss_mb, 1),
    f(r.vs_curl_tee, 2),
    f(r.vs_openssl, 2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/** The two scenarios of the bench: a full-speed origin, and one throttled per connection. */
export type ScenarioKind = "unthrottled" | "throttled";

/** One ratio line of a scenario, with its target when the issue sets one. */
export interface Verdict {
  /** JSON key, e.g. `lode_over_openssl`. */
  key: string;
  /** Null when a row it needs is missing. */
  value: number | null;
  /** `true` met, `false` missed, `null` no target or no value. */
  met: boolean | null;
  /** The printed line, e.g. `lode / openssl dgst = 1.21 (target <= 1.3: met)`. */
  line: string;
}

function verdict(
  key: string,
  label: string,
  value: number | null,
  target?: [string, (v: number) => boolean],
) {
  const met = value === null || !target ? null : target[1](value);
  const shown = value === null ? "n/a (row missing)" : value.toFixed(2);
  const tail = target ? ` (target ${target[0]}${met === null ? "" : met ? ": met" : ": MISSED"})` : "";
  return { key, value, met, line: `${label} = ${shown}${tail}` };
}

/**
 * The ratio lines of a scenario, from medians: unthrottled — `lode / openssl dgst` (target <= 1.3),
 * `lode / curl -o f && openssl dgst f` (target <= 0.9) and `lode vs fastest peer` (the fastest row that
 * downloads, i.e. not the hashing row); throttled — `curl / lode` (curl = {@link BASELINE}; target >= 6),
 * `lode / aria2c -x16` (target <= 1.0) and `lode / 16 curls` ({@link CURLS_16}; target <= 1.1); both —
 * lode's peak RSS (target <= 100 MB, set for 16 connections: `connections` says what this run used).
 * @example
 * ```ts
 * for (const v of verdicts(rows, "throttled", { connections: undefined })) console.log(v.line);
 * ```
 */
export function verdicts(rows: ToolRow[], kind: ScenarioKind, options: { connections?: number }): Verdict[] {
  const row = (tool: string) => rows.find((r) => r.tool === tool) ?? null;
  const lode = row(LODE);
  const over = (a: ToolRow | null, b: ToolRow | null) => (a && b ? a.median_s / b.median_s : null);
  const out: Verdict[] = [];
  if (kind === "unthrottled") {
    out.push(
      verdict("lode_over_openssl", "lode / openssl dgst", over(lode, row(HASH_LIMIT)), [
        "<= 1.3",
        (v) => v <= 1.3,
      ]),
      verdict("lode_over_curl_openssl", `lode / ${CURL_OPENSSL}`, over(lode, row(CURL_OPENSSL)), [
        "<= 0.9",
        (v) => v <= 0.9,
      ]),
    );
    const peers = rows.filter((r) => r.tool !== LODE && r.tool !== LODE_BEFORE && r.tool !== HASH_LIMIT);
    const fastest = peers.length ? peers.reduce((a, b) => (b.median_s < a.median_s ? b : a)) : null;
    const v = verdict("lode_vs_fastest_peer", "lode vs fastest peer", over(lode, fastest));
    if (fastest) {
      v.line += ` (lode / ${fastest.tool} at ${fastest.median_s.toFixed(3)} s; above 1 = lode slower)`;
    }
    out.push(v);
    const before = row(LODE_BEFORE);
    if (before) out.push(verdict("lode_over_before", `lode / ${LODE_BEFORE}`, over(lode, before)));
  } else {
    const curl = verdict("curl_over_lode", "curl / lode", over(row(BASELINE), lode), [">= 6", (v) => v >= 6]);
    curl.line += ` [curl = ${BASELINE}]`;
    out.push(
      curl,
      verdict("lode_over_aria2c_x16", `lode / ${ARIA2_X16}`, over(lode, row(ARIA2_X16)), [
        "<= 1.0",
        (v) => v <= 1,
      ]),
      verdict("lode_over_16_curls", `lode / ${CURLS_16}`, over(lode, row(CURLS_16)), [
        "<= 1.1",
        (v) => v <= 1.1,
      ]),
    );
  }
  const rss = lode?.peak_rss_mb ?? null;
  const at = options.connections === undefined ? "lode's default" : `${options.connections}`;
  const mem: Verdict = {
    key: "lode_peak_rss_mb",
    value: rss,
    met: rss === null ? null : rss <= 100,
    line:
      `lode peak RSS = ${
        rss === null ? "unknown" : Math.round(rss)
      } MB (target <= 100 MB at 16 connections;` +
      ` this run: ${at} connections${rss === null ? "" : rss <= 100 ? ": met" : ": MISSED"})`,
  };
  out.push(mem);
  return out;
}
