/**
 * The GGUF header reader under hostile input (scripts/fuzz_gguf.ts, fixed seed): every input parses or
 * is GGUF_INVALID — no other error, no hang, no unbounded memory. `deno run -A scripts/fuzz_gguf.ts`
 * runs the same for longer.
 */
import assert from "node:assert/strict";
import { fuzz } from "../scripts/fuzz_gguf.ts";

Deno.test("fuzz: mutated, truncated and crafted GGUF headers parse or are GGUF_INVALID, never hang, in bounded memory", async () => {
  // timeoutMs only tells a hang (a failure) from an answer; how fast inputs are read is the fuzz script's report.
  const report = await fuzz({
    seed: 20240607,
    mutationsPerBase: 1500,
    truncateUpTo: 4096,
    timeoutMs: 30_000,
  });
  console.log(JSON.stringify(report));
  assert.deepEqual(report.failures, []);
  assert.ok(report.cases > 7000, `${report.cases} cases`);
  assert.ok(report.parsed > 100, `some mutations still parse (${report.parsed})`);
  assert.ok(report.rejected > 5000, `${report.rejected} rejected`);
  assert.ok(report.rssGrowthBytes < 128 * 1024 * 1024, `rss grew ${report.rssGrowthBytes} bytes`);
});
