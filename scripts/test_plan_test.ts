import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  isTestFileName,
  isUnitTest,
  listTestFiles,
  NEEDS_PROCESSES,
  parseTestOutput,
  planSuite,
  SOLO,
} from "./test_plan.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

Deno.test("test plan: every file NEEDS_PROCESSES and SOLO name exists; solo files are not unit files", async () => {
  const files = await listTestFiles(ROOT);
  for (const entry of NEEDS_PROCESSES) {
    const found = entry.endsWith("/") ? files.some((f) => f.startsWith(entry)) : files.includes(entry);
    assert.ok(found, `${entry} names no test file: remove it from NEEDS_PROCESSES`);
  }
  for (const file of SOLO) {
    assert.ok(files.includes(file), `${file} (SOLO) is not a test file`);
    assert.equal(isUnitTest(file), false, `${file} runs alone because of other processes: not a unit file`);
  }
  assert.ok(files.includes("scripts/test_plan_test.ts"));
  assert.ok(files.filter(isUnitTest).length > 40, "most files are unit files");
});

Deno.test("test plan: unit files are those outside NEEDS_PROCESSES; deno's test file names", () => {
  assert.equal(isUnitTest("src/store/hash_test.ts"), true);
  assert.equal(isUnitTest("tests/pull_test.ts"), false);
  assert.equal(
    isUnitTest("tests/support/origin_test.ts"),
    false,
    "a directory entry covers its subdirectories",
  );
  assert.equal(isUnitTest("src/inference/llama_cpp_backend_test.ts"), false);
  assert.deepEqual(
    ["a_test.ts", "a.test.ts", "test.ts", "a_test.js", "latest.ts", "a_test.ts.bak", "contest.ts"].map(
      isTestFileName,
    ),
    [true, true, true, true, false, false, false],
  );
});

Deno.test("test plan: the unit files in one job started second, the others each alone by size, SOLO last", () => {
  const files = ["src/a_test.ts", "src/b_test.ts", "tests/big_test.ts", "tests/small_test.ts", ...SOLO];
  const sizes: Record<string, number> = { "tests/big_test.ts": 900, "tests/small_test.ts": 10 };
  const plan = planSuite(files, (f) => sizes[f] ?? 100);
  assert.deepEqual(plan.parallel.map((j) => j.label), [
    "tests/big_test.ts",
    "unit tests (2 files)",
    "tests/small_test.ts",
  ]);
  assert.deepEqual(plan.parallel[1]!.files, ["src/a_test.ts", "src/b_test.ts"]);
  assert.equal(plan.parallel[1]!.unit, true);
  assert.deepEqual(plan.solo.map((j) => j.files), SOLO.map((f) => [f]));
  assert.ok([...plan.parallel, ...plan.solo].every((j) => j.unit === j.files.every(isUnitTest)));
});

Deno.test("parseTestOutput: counts, ignored tests with the reason their file printed, failures", () => {
  const out = parseTestOutput([
    "------- pre-test output -------",
    "proxy_test.ts: SKIPPED, tinyproxy is not installed (apt-get install -y tinyproxy)",
    "----- pre-test output end -----",
    "running 2 tests from ./tests/proxy_test.ts",
    "https through tinyproxy ... ignored (0ms)",
    "NO_PROXY ... ignored (0ms)",
    "running 2 tests from ./scripts/compile_test.ts",
    "compileArgs ... ok (1ms)",
    "single binary (needs DENORT_BIN) ... ignored (0ms)",
    "------- post-test output -------",
    "skipped: single-binary integration test: DENORT_BIN is not set",
    "----- post-test output end -----",
    "running 1 test from ./src/x_test.ts",
    "breaks ... FAILED (3ms)",
    "",
    " ERRORS ",
    "",
    "breaks => ./src/x_test.ts:3:6",
    "error: AssertionError: no",
    "",
    " FAILURES ",
    "",
    "breaks => ./src/x_test.ts:3:6",
    "",
    "FAILED | 1 passed (2 steps) | 1 failed | 3 ignored (2s)",
  ].join("\n"));
  assert.deepEqual([out.passed, out.failed, out.ignored, out.summarySeen], [1, 1, 3, true]);
  assert.deepEqual(out.skipped, [
    {
      file: "tests/proxy_test.ts",
      tests: ["https through tinyproxy", "NO_PROXY"],
      reasons: ["proxy_test.ts: SKIPPED, tinyproxy is not installed (apt-get install -y tinyproxy)"],
    },
    {
      file: "scripts/compile_test.ts",
      tests: ["single binary (needs DENORT_BIN)"],
      reasons: ["skipped: single-binary integration test: DENORT_BIN is not set"],
    },
  ]);
  assert.deepEqual(out.failures, ["breaks => ./src/x_test.ts:3:6"]);

  // deno test --parallel: module output comes first, as post-test output; each line names its file.
  const parallel = parseTestOutput([
    "./src/a_test.ts => a ... ok (3ms)",
    "------- post-test output -------",
    "c_test.ts: SKIPPED, nothing to run here",
    "----- post-test output end -----",
    "./src/c_test.ts => c ... ignored (0ms)",
    "ok | 1 passed | 0 failed | 1 ignored (1s)",
  ].join("\n"));
  assert.deepEqual(parallel.skipped, [
    { file: "src/c_test.ts", tests: ["c"], reasons: ["c_test.ts: SKIPPED, nothing to run here"] },
  ]);
  assert.equal(parseTestOutput("error: Module not found\n").summarySeen, false);
});
