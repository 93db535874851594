/**
 * `deno task test` (scripts/run_tests.ts): the whole suite, ending with the plain summary line CI reads,
 * `N passed, N failed` (`, N skipped` when tests were skipped, each file's reason listed above it).
 *
 * ```sh
 * deno task test                      # the whole suite (what .ci/run runs)
 * deno task test --jobs 1             # …one test file at a time
 * deno task test:unit                 # unit tests only: no processes, no model, --jobs at once
 * deno task test tests/pull_test.ts   # any other arguments go to `deno test -A` as they are
 * ```
 *
 * The whole suite: one `deno check` of everything, the unit files in one `deno test` run, and every
 * other test file in its own `deno test` process, `--jobs` of them at once (default: one per CPU),
 * then the files that must run alone (scripts/test_plan.ts). Each run's output is printed whole when it
 * ends. Separate processes keep what a test asserts about its own process (its child processes, its
 * memory) its own.
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import {
  isUnitTest,
  listTestFiles,
  parseTestOutput,
  planSuite,
  type Skipped,
  type TestJob,
  UNIT_PERMISSIONS,
} from "./test_plan.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const ENV = { NO_COLOR: "1" };

interface Totals {
  passed: number;
  failed: number;
  ignored: number;
  skipped: Skipped[];
  failures: string[];
}

function addTo(totals: Totals, text: string, label: string, success: boolean): void {
  const out = parseTestOutput(text);
  if (/NotCapable: Requires (run|ffi) access/.test(text)) {
    totals.failures.push(
      `${label}: a unit test file started a process or loaded native code; list it in NEEDS_PROCESSES ` +
        "(scripts/test_plan.ts)",
    );
  }
  totals.passed += out.passed;
  totals.failed += out.failed;
  totals.ignored += out.ignored;
  totals.skipped.push(...out.skipped);
  totals.failures.push(...out.failures);
  if (!success && out.failed === 0) {
    // No test failed, yet the run did: a module that does not load, a type error, a crash.
    totals.failed += 1;
    totals.failures.push(`${label}: the run failed outside any test (see its output above)`);
  }
}

/** Runs `deno test` on `args`, streaming its output; returns what it said and whether it passed. */
async function streamed(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ text: string; success: boolean }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
    env: { ...ENV, ...env },
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    await Deno.stdout.write(chunk);
    text += decoder.decode(chunk, { stream: true });
  }
  const status = await child.status;
  return { text, success: status.success };
}

interface Finished {
  label: string;
  success: boolean;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs one command to its end, its output kept. */
async function captured(label: string, args: string[]): Promise<Finished> {
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: ENV,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder();
  return {
    label,
    success: out.success,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
    seconds: (performance.now() - started) / 1000,
  };
}

function testArgs(job: TestJob): string[] {
  // Type-checked once for the whole suite before (see suite()).
  return ["test", ...(job.unit ? UNIT_PERMISSIONS : ["-A"]), "--no-check", ...job.files];
}

/** Runs `items` through `run`, `jobs` at a time, in order. */
async function pool<T>(items: readonly T[], jobs: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
}

async function suite(jobs: number, totals: Totals): Promise<void> {
  const files = await listTestFiles(ROOT);
  const sizes = new Map(
    await Promise.all(files.map(async (f) => [f, (await Deno.stat(`${ROOT}/${f}`)).size] as const)),
  );
  const plan = planSuite(files, (f) => sizes.get(f) ?? 0);
  const unitFiles = files.filter(isUnitTest).length;
  console.log(
    `${files.length} test files: ${unitFiles} unit files in one run, ${
      files.length - unitFiles
    } in their own ` +
      `processes (${jobs} at a time, then ${plan.solo.length} alone); type check first`,
  );
  const times: { label: string; seconds: number }[] = [];
  const report = (f: Finished, job?: TestJob) => {
    times.push({ label: f.label, seconds: f.seconds });
    if (job === undefined) { // the type check
      if (!f.success) {
        console.log(f.stdout + f.stderr);
        totals.failed += 1;
        totals.failures.push(`type check (deno check main.ts scripts/ tests/ src/) failed: see above`);
      } else console.log(`type check: ok (${f.seconds.toFixed(0)}s)`);
      return;
    }
    console.log(f.stdout.trimEnd());
    if (f.stderr.trim()) console.log(f.stderr.trimEnd());
    addTo(totals, f.stdout + f.stderr, f.label, f.success);
  };
  type Item = TestJob | "check";
  const items: Item[] = ["check", ...plan.parallel];
  await pool(items, jobs, async (item) => {
    if (item === "check") {
      report(await captured("type check", ["check", "main.ts", "scripts/", "tests/", "src/"]));
    } else report(await captured(item.label, testArgs(item)), item);
  });
  for (const job of plan.solo) report(await captured(job.label, testArgs(job)), job);
  const slowest = times.sort((a, b) => b.seconds - a.seconds).slice(0, 5);
  console.log(`\nslowest: ${slowest.map((t) => `${t.label} ${t.seconds.toFixed(0)}s`).join(", ")}`);
}

function printSummary(totals: Totals): void {
  if (totals.skipped.length > 0) {
    console.log(`\nskipped: ${totals.ignored} tests, because something they need is missing here:`);
    for (const s of totals.skipped) {
      const why = s.reasons.length > 0 ? s.reasons.join("; ") : "(the file printed no reason)";
      console.log(`  ${s.file} (${s.tests.length}): ${why}`);
    }
  }
  if (totals.failures.length > 0) {
    console.log("\nfailed:");
    for (const f of totals.failures) console.log(`  ${f}`);
  }
  const skipped = totals.ignored ? `, ${totals.ignored} skipped` : "";
  console.log(`${totals.passed} passed, ${totals.failed} failed${skipped}`);
}

async function main(args: string[]): Promise<number> {
  const totals: Totals = { passed: 0, failed: 0, ignored: 0, skipped: [], failures: [] };
  const ours = new Set(["--unit", "--jobs"]);
  const passthrough = args.some((a, i) => !ours.has(a.split("=")[0]!) && args[i - 1] !== "--jobs");
  if (passthrough) {
    // Any other arguments: `deno test -A` on them, as they are.
    const { text, success } = await streamed(["-A", "--no-check=remote", ...args]);
    addTo(totals, text, "deno test", success);
  } else {
    const { values } = parseArgs({
      args,
      options: { unit: { type: "boolean", default: false }, jobs: { type: "string" } },
      strict: true,
    });
    const jobs = values.jobs === undefined ? navigator.hardwareConcurrency : Number(values.jobs);
    if (!Number.isInteger(jobs) || jobs < 1) {
      console.error(`error: --jobs takes a whole number of at least 1, not ${values.jobs}`);
      return 2;
    }
    if (values.unit) {
      const files = (await listTestFiles(ROOT)).filter(isUnitTest);
      // No test here shares a process-wide resource (children, memory, CPUs): one worker per job.
      const { text, success } = await streamed([
        ...UNIT_PERMISSIONS,
        "--no-check=remote",
        "--parallel",
        ...files,
      ], {
        DENO_JOBS: String(jobs),
      });
      addTo(totals, text, "unit tests", success);
    } else {
      await suite(jobs, totals);
    }
  }
  printSummary(totals);
  return totals.failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
