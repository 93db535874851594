import { deepStrictEqual as assertEquals, ok, throws as assertThrows } from "node:assert/strict";

const assertAlmostEquals = (a: number, b: number) => ok(Math.abs(a - b) < 1e-9, `${a} != ${b}`);
import {
  ARIA2_X16,
  BASELINE,
  CURL_OPENSSL,
  CURLS_16,
  formatTable,
  HASH_LIMIT,
  LODE,
  median,
  summarise,
  type ToolSamples,
  verdicts,
} from "./bench_report.ts";

Deno.test("median: odd, even, unsorted; empty throws", () => {
  assertEquals(median([3, 1, 2]), 2);
  assertEquals(median([4, 1, 3, 2]), 2.5);
  assertEquals(median([7]), 7);
  assertThrows(() => median([]));
});

const samples: ToolSamples[] = [
  {
    tool: HASH_LIMIT,
    command: "openssl",
    seconds: [1, 1.2, 0.8],
    rssKib: [6000, 6100, null],
    cpuS: [1, 1, 1],
  },
  { tool: BASELINE, command: "curl|tee", seconds: [4, 5, 6], rssKib: [12000, 13000, 12500] },
  {
    tool: "lode pull",
    command: "lode",
    seconds: [2, 3, 2.5],
    rssKib: [null, null, null],
    cpuS: [2, null, 4],
  },
];

Deno.test("summarise: medians, min, MB/s, peak RSS and both ratios", () => {
  const rows = summarise(samples, 1e9);
  const [ossl, curl, lode] = rows;
  assertEquals(ossl!.median_s, 1);
  assertEquals(ossl!.min_s, 0.8);
  assertEquals(ossl!.mb_per_s, 1000);
  assertAlmostEquals(ossl!.peak_rss_mb!, (6100 * 1024) / 1e6);
  assertEquals(ossl!.vs_openssl, 1);
  assertEquals(curl!.vs_curl_tee, 1);
  assertEquals(curl!.cpu_s, null);
  assertEquals(lode!.vs_curl_tee, 0.5);
  assertEquals(lode!.vs_openssl, 2.5);
  assertEquals(lode!.peak_rss_mb, null);
  assertEquals(lode!.cpu_s, 3);
});

Deno.test("summarise: no reference rows means null ratios", () => {
  const [row] = summarise([samples[2]!], 1e6);
  assertEquals(row!.vs_curl_tee, null);
  assertEquals(row!.vs_openssl, null);
});

Deno.test("formatTable: header, rule and one aligned line per row", () => {
  const lines = formatTable(summarise(samples, 1e9)).split("\n");
  assertEquals(lines.length, 5);
  assertEquals(lines[0]!.startsWith("tool"), true);
  assertEquals(new Set(lines.map((l) => l.length)).size, 1);
  assertEquals(lines[4]!.includes("lode pull"), true);
  assertEquals(lines[4]!.trimEnd().endsWith("2.50"), true);
});

const run = (tool: string, seconds: number, rssKib: number | null = null): ToolSamples => ({
  tool,
  command: tool,
  seconds: [seconds],
  rssKib: [rssKib],
});

Deno.test("verdicts unthrottled: lode / openssl against 1.3, lode / curl+openssl against 0.9, fastest peer ignores the hashing row", () => {
  const rows = summarise([
    run(HASH_LIMIT, 1),
    run(CURL_OPENSSL, 1.5),
    run(BASELINE, 5),
    run(ARIA2_X16, 2),
    run("aria2c -x8", 2.5),
    run(LODE, 1.2, 100_000),
  ], 1e9);
  const v = verdicts(rows, "unthrottled", {});
  assertEquals(v.map((x) => x.key), [
    "lode_over_openssl",
    "lode_over_curl_openssl",
    "lode_vs_fastest_peer",
    "lode_peak_rss_mb",
  ]);
  assertAlmostEquals(v[0]!.value!, 1.2);
  assertEquals(v[0]!.met, true);
  assertEquals(v[0]!.line, "lode / openssl dgst = 1.20 (target <= 1.3: met)");
  assertEquals(v[1]!.line, "lode / curl -o f && openssl dgst f = 0.80 (target <= 0.9: met)");
  assertAlmostEquals(v[2]!.value!, 0.8);
  assertEquals(v[2]!.met, null);
  ok(
    v[2]!.line.startsWith("lode vs fastest peer = 0.80 (lode / curl -o f && openssl dgst f at 1.500 s"),
    v[2]!.line,
  );
  assertEquals(v[3]!.met, false);
  ok(
    v[3]!.line.startsWith(
      "lode peak RSS = 102 MB (target <= 100 MB at 16 connections; this run: lode's default",
    ),
  );
});

Deno.test("verdicts throttled: curl / lode against 6, lode / aria2c -x16 against 1.0, lode / 16 curls against 1.1, misses said loudly", () => {
  const rows = summarise(
    [run(BASELINE, 10), run(ARIA2_X16, 1), run(CURLS_16, 1.6), run(LODE, 2, 300_000)],
    256e6,
  );
  const v = verdicts(rows, "throttled", { connections: 16 });
  assertEquals(v.map((x) => x.key), [
    "curl_over_lode",
    "lode_over_aria2c_x16",
    "lode_over_16_curls",
    "lode_peak_rss_mb",
  ]);
  assertEquals(v[0]!.line, "curl / lode = 5.00 (target >= 6: MISSED) [curl = curl | tee | sha256sum]");
  assertEquals(v[1]!.line, "lode / aria2c -x16 = 2.00 (target <= 1.0: MISSED)");
  assertEquals(v[2]!.line, "lode / 16 curls -r (ceiling) = 1.25 (target <= 1.1: MISSED)");
  assertEquals(v[3]!.met, false);
  ok(v[3]!.line.includes("this run: 16 connections: MISSED"), v[3]!.line);
});

Deno.test("verdicts: a missing row gives n/a, not a crash", () => {
  const v = verdicts(summarise([run(LODE, 2)], 1e6), "throttled", {});
  assertEquals(v[0]!.value, null);
  assertEquals(v[0]!.met, null);
  assertEquals(v[1]!.line, "lode / aria2c -x16 = n/a (row missing) (target <= 1.0)");
  assertEquals(v[2]!.line, "lode / 16 curls -r (ceiling) = n/a (row missing) (target <= 1.1)");
  assertEquals(v[3]!.line.startsWith("lode peak RSS = unknown MB"), true);
});
