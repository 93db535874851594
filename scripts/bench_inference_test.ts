import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type BenchOptions,
  type BenchReport,
  compare,
  formatReport,
  PROMPT,
  type Sample,
} from "./bench_inference.ts";

const SCRIPT = fileURLToPath(new URL("./bench_inference.ts", import.meta.url));

const sample = (tokensPerSecond: number, ttft: number, text = "x"): Sample => ({
  loadMs: 100,
  promptTokens: 30,
  generatedTokens: 128,
  timeToFirstTokenMs: ttft,
  totalMs: 1000,
  tokensPerSecond,
  text,
  wallMs: 2000,
});
const options: BenchOptions = {
  model: "m.gguf",
  runs: 3,
  maxTokens: 128,
  threads: 1,
  contextSize: 2048,
  prompt: PROMPT,
  warmup: 0,
};

Deno.test("compare: medians, tokens/s overhead in percent, TTFT delta, same-text check", () => {
  const r = compare(options, [sample(99, 30), sample(97, 31), sample(98.5, 90)], [
    sample(100, 20),
    sample(50, 21),
    sample(100, 22),
  ]);
  assert.equal(r.lode.tokensPerSecond, 98.5);
  assert.equal(r.direct.tokensPerSecond, 100);
  assert.ok(Math.abs(r.tokensPerSecondOverheadPct - 1.5) < 1e-9);
  assert.equal(r.timeToFirstTokenDeltaMs, 10);
  assert.equal(r.sameText, true);
  // Pairs: 1-99/100 = 1%, 1-97/50 = -94%, 1-98.5/100 = 1.5% → median 1%; TTFT 10, 10, 68 → 10.
  assert.ok(Math.abs(r.paired.tokensPerSecondOverheadPct - 1) < 1e-9);
  assert.equal(r.paired.timeToFirstTokenDeltaMs, 10);
  assert.deepEqual([r.lode.bestTokensPerSecond, r.lode.bestTimeToFirstTokenMs], [99, 30]);
  assert.match(
    formatReport(r),
    /best rounds \(least disturbed\): lode 99\.0 tok\/s, ttft 30\.0 ms \| direct 100\.0 tok\/s/,
  );
  assert.match(formatReport(r), /tokens\/s overhead: 1\.50% \(target ≤ 2%\): PASS \| paired median 1\.00%/);
  assert.match(formatReport(r), /time-to-first-token delta: 10\.0 ms \(target ≤ 50 ms\): PASS/);
  const differs = compare(options, [sample(1, 1, "a")], [sample(1, 1, "b")]);
  assert.equal(differs.sameText, false);
});

Deno.test("bench-inference --smoke: one round of lode run and direct node-llama-cpp on stories260K", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-bench-inference-test-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SCRIPT, "--smoke", "--threads", "1", "--out", `${dir}/r.json`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(stdout, /tokens\/s overhead: -?\d+\.\d+% \(target ≤ 2%\)/);
    const report = JSON.parse(await Deno.readTextFile(`${dir}/r.json`)) as BenchReport;
    assert.equal(report.samples.lode.length, 1);
    assert.equal(report.lode.generatedTokens, 16);
    assert.equal(report.direct.generatedTokens, 16);
    assert.equal(report.lode.promptTokens, report.direct.promptTokens);
    assert.equal(
      report.sameText,
      true,
      `${report.samples.lode[0]!.text} | ${report.samples.direct[0]!.text}`,
    );
    assert.ok(report.lode.tokensPerSecond > 0 && report.direct.tokensPerSecond > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
