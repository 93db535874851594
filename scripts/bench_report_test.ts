import { deepStrictEqual as assertEquals, ok, throws as assertThrows } from "node:assert/strict";

const assertAlmostEquals = (a: number, b: number) => ok(Math.abs(a - b) < 1e-9, `${a} != ${b}`);
import { BASELINE, formatTable, HASH_LIMIT, median, summarise, type ToolSamples } from "./bench_report.ts";

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
