/**
 * Which test files `deno task test` and `deno task test:unit` run, in which order, and what their output
 * says (scripts/run_tests.ts runs them).
 *
 * A **unit** test file starts no process and loads no model or native library: every test file except
 * those {@link NEEDS_PROCESSES} lists. The unit task runs them with `--deny-run --deny-ffi`, so a unit file
 * that starts a process (`Deno.Command`, node-llama-cpp's binary check) or opens a native addon fails
 * with `NotCapable` instead of slipping in: list it in {@link NEEDS_PROCESSES}.
 *
 * The whole suite runs each other file in its own `deno test` process, several at once (one per CPU by
 * default), the largest files first; {@link SOLO} files run afterwards, alone.
 *
 * @example
 * ```ts
 * import { isUnitTest, parseTestOutput } from "./test_plan.ts";
 * isUnitTest("src/store/hash_test.ts"); // true
 * isUnitTest("tests/pull_test.ts"); // false
 * parseTestOutput("ok | 3 passed | 0 failed (10ms)\n").passed; // 3
 * ```
 * @module
 */

/**
 * Test files that start processes (lode, the daemon, runners, openssl, tinyproxy, nginx, deno) or load the
 * model or a native library (node-llama-cpp), by path from the repository root; a path ending in `/`
 * names every test file under it.
 */
export const NEEDS_PROCESSES: readonly string[] = [
  // Cross-module suites: the real CLI, the daemon, HTTPS origins with certificates made by openssl.
  "tests/",
  "plugins/file_log_sink/file_log_sink_signal_test.ts",
  "plugins/webhook_sink/webhook_sink_test.ts",
  "scripts/bench_framing_test.ts",
  "scripts/bench_inference_test.ts",
  "scripts/bench_nginx_test.ts",
  "scripts/compile_test.ts",
  "scripts/doc_examples_test.ts",
  "scripts/gen_gguf_test.ts",
  "scripts/install_test.ts",
  "scripts/split_gguf_test.ts",
  "src/cli/command_stream_test.ts",
  "src/cli/context_test.ts",
  "src/cli/model_session_test.ts",
  "src/daemon/batch/batch_job_test.ts",
  "src/daemon/batch/batches_api_test.ts",
  "src/daemon/batch/files_api_test.ts",
  "src/daemon/openai/cors_test.ts",
  "src/daemon/openai/openai_http_compat_test.ts",
  "src/daemon/openai/openai_http_runner_test.ts",
  "src/daemon/openai/openai_http_test.ts",
  "src/daemon/openai/openai_http_wire_test.ts",
  "src/daemon/openai/responses_api_test.ts",
  "src/daemon/router/model_provider_test.ts",
  "src/daemon/router/model_router_runner_test.ts",
  "src/daemon/router/vocabulary_session_test.ts",
  "src/daemon/runner/runner_client_test.ts",
  "src/daemon/runner/runner_conformance_test.ts",
  "src/daemon/runner/runner_session_test.ts",
  "src/daemon/server/daemon_test.ts",
  "src/daemon/server/inference_server_test.ts",
  "src/daemon/server/inference_service_test.ts",
  "src/daemon/wire/instance_lock_test.ts",
  "src/daemon/wire/socket_path_test.ts",
  "src/download/disk_space_test.ts",
  "src/download/http1_client_test.ts",
  "src/download/part_body_test.ts",
  "src/gguf/ggml_types_test.ts",
  "src/gguf/summary_test.ts",
  "src/inference/cpu_affinity_test.ts",
  "src/inference/llama_cpp_backend_test.ts",
  "src/inference/llama_cpp_batch_order_test.ts",
  "src/inference/llama_cpp_chat_template_test.ts",
  "src/inference/llama_cpp_chat_test.ts",
  "src/inference/llama_cpp_conformance_test.ts",
  "src/inference/llama_cpp_embed_test.ts",
  "src/inference/llama_cpp_ffi_vocabulary_test.ts",
  "src/inference/llama_cpp_prompt_test.ts",
  "src/inference/llama_cpp_sequences_test.ts",
  "src/inference/llama_cpp_tools_test.ts",
  "src/inference/memory_preflight_test.ts",
  // Reads /proc/<pid>/stat (Deno grants it only with every permission) and runs programs as jobs.
  "src/jobs/job_gc_test.ts",
  "src/jobs/job_record_test.ts",
  "src/jobs/job_runner_test.ts",
  // Start plugin processes (deno run with a plugin's sandbox flags, an executable plugin).
  "src/plugin/plugin_driver_test.ts",
  "src/plugin/plugin_process_test.ts",
  "src/plugin/plugin_supervisor_test.ts",
  "src/store/file_lock_test.ts",
  "src/store/gc_test.ts",
];

/**
 * Files that run alone, after the others: they pin processes to CPUs and assert which CPU a process
 * chose, which other test files' pinned runners would change.
 */
export const SOLO: readonly string[] = [
  "src/inference/cpu_affinity_test.ts",
  "tests/serve_cpu_affinity_test.ts",
];

/** Permission flags of a unit run: everything but starting processes and loading native code. */
export const UNIT_PERMISSIONS: readonly string[] = ["--allow-all", "--deny-run", "--deny-ffi"];

/** True when `path` (from the repository root) is a unit test file. */
export function isUnitTest(path: string): boolean {
  return !NEEDS_PROCESSES.some((p) => p.endsWith("/") ? path.startsWith(p) : path === p);
}

/** Deno's test file names: `*_test.ts`, `*.test.ts`, `test.ts` (and js/tsx/jsx/mjs). */
export function isTestFileName(name: string): boolean {
  return /(^|[_.])test\.(ts|tsx|mts|js|mjs|jsx)$/.test(name);
}

/** Every test file under `dirs` of `root`, sorted, as paths from `root` (node_modules and dot-directories skipped). */
export async function listTestFiles(
  root: string,
  dirs: readonly string[] = ["src", "plugins", "scripts", "tests"],
): Promise<string[]> {
  const found: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(`${root}/${rel}`));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const entry of entries) {
      const path = `${rel}/${entry.name}`;
      if (entry.isDirectory && entry.name !== "node_modules" && !entry.name.startsWith(".")) await walk(path);
      else if (entry.isFile && isTestFileName(entry.name)) found.push(path);
    }
  };
  for (const dir of dirs) await walk(dir);
  return found.sort();
}

/** One `deno test` run of the whole suite's plan. */
export interface TestJob {
  /** What the job is called in the summary: a file, or `unit tests (N files)`. */
  label: string;
  files: string[];
  /** Run with {@link UNIT_PERMISSIONS}. */
  unit: boolean;
}

/** The whole suite's plan: jobs run several at once (largest first), then the solo ones one by one. */
export interface TestPlan {
  parallel: TestJob[];
  solo: TestJob[];
}

/**
 * Splits `files` into jobs: the unit files in one, every other file in its own, ordered by `size`
 * (bytes of source: the larger files hold more tests) from the largest, so that the last ones to start
 * are short.
 */
export function planSuite(files: readonly string[], size: (file: string) => number): TestPlan {
  const unit = files.filter(isUnitTest);
  const rest = files.filter((f) => !isUnitTest(f));
  const solo = rest.filter((f) => SOLO.includes(f));
  const parallel = rest.filter((f) => !SOLO.includes(f)).sort((a, b) =>
    size(b) - size(a) || a.localeCompare(b)
  );
  const one = (f: string): TestJob => ({ label: f, files: [f], unit: false });
  const jobs = parallel.map(one);
  // The unit job runs many small files (about a minute of work): started early, beside the largest.
  if (unit.length > 0) {
    jobs.splice(1, 0, { label: `unit tests (${unit.length} files)`, files: unit, unit: true });
  }
  return { parallel: jobs, solo: solo.map(one) };
}

/** A test file's ignored tests and why, when the file said so (a line with `SKIPPED` or `skipped:`). */
export interface Skipped {
  file: string;
  tests: string[];
  reasons: string[];
}

/** What one `deno test` run's output says. */
export interface TestOutput {
  passed: number;
  failed: number;
  ignored: number;
  /** Deno printed its summary line (`ok | …` or `FAILED | …`). */
  summarySeen: boolean;
  skipped: Skipped[];
  /** `test name => ./file:line` of every failure, from Deno's FAILURES list. */
  failures: string[];
}

/**
 * Reads `deno test` output (NO_COLOR): the summary counts, the ignored tests of each file with the
 * reason the file printed, the failures.
 *
 * @example
 * ```ts
 * import { parseTestOutput } from "./test_plan.ts";
 * const out = parseTestOutput([
 *   "------- pre-test output -------",
 *   "proxy_test.ts: SKIPPED, tinyproxy is not installed",
 *   "----- pre-test output end -----",
 *   "running 1 test from ./tests/proxy_test.ts",
 *   "through a proxy ... ignored (0ms)",
 *   "ok | 0 passed | 0 failed | 1 ignored (8ms)",
 * ].join("\n"));
 * out.skipped[0]!.reasons; // ["proxy_test.ts: SKIPPED, tinyproxy is not installed"]
 * ```
 */
export function parseTestOutput(text: string): TestOutput {
  const out: TestOutput = { passed: 0, failed: 0, ignored: 0, summarySeen: false, skipped: [], failures: [] };
  const byFile = new Map<string, Skipped>();
  const entry = (file: string) => {
    let s = byFile.get(file);
    if (!s) byFile.set(file, s = { file, tests: [], reasons: [] });
    return s;
  };
  let file = "";
  let pending: string[] = []; // reasons printed before the next file's tests (pre-test output)
  let section: "pre" | "post" | null = null;
  let inFailures = false;
  for (const line of text.split("\n")) {
    if (/^-+ pre-test output -+$/.test(line)) section = "pre";
    else if (/^-+ post-test output -+$/.test(line)) section = "post";
    else if (/^-+ (pre|post)-test output end -+$/.test(line)) section = null;
    else if (section !== null) {
      if (/\bSKIPPED\b|^skipped:/.test(line)) {
        (section === "pre" ? pending : entry(file).reasons).push(line.trim());
      }
    }
    const running = /^running \d+ tests? from \.\/(\S+)/.exec(line);
    if (running) {
      file = running[1]!;
      if (pending.length > 0) entry(file).reasons.push(...pending);
      pending = [];
      continue;
    }
    // `deno test --parallel` names the file on each line: "./src/a_test.ts => name ... ignored (0ms)".
    const ignored = /^(?:\.\/(\S+) => )?(.*) \.\.\. ignored \(/.exec(line);
    if (ignored && (ignored[1] ?? file)) entry(ignored[1] ?? file).tests.push(ignored[2]!);
    if (/^ FAILURES $/.test(line)) inFailures = true;
    else if (inFailures && / => \.\/\S+:\d+:\d+$/.test(line)) out.failures.push(line.trim());
    else if (inFailures && /^(ok|FAILED) \|/.test(line)) inFailures = false;
    // Deno's own summary: "ok | 12 passed (3 steps) | 0 failed | 2 ignored (2s)"
    const m = /^(?:ok|FAILED) \| (\d+) passed.*?\| (\d+) failed(?:.*?\| (\d+) ignored)?/.exec(line);
    if (m) {
      out.passed += Number(m[1]);
      out.failed += Number(m[2]);
      out.ignored += Number(m[3] ?? 0);
      out.summarySeen = true;
    }
  }
  // A reason that names its file ("proxy_test.ts: SKIPPED, …") goes to that file, wherever it was printed.
  const skipped = [...byFile.values()].filter((s) => s.tests.length > 0);
  for (const from of byFile.values()) {
    from.reasons = from.reasons.filter((reason) => {
      const to = skipped.find((s) => s !== from && reason.startsWith(`${s.file.split("/").at(-1)}:`));
      to?.reasons.push(reason);
      return to === undefined;
    });
  }
  out.skipped = skipped;
  return out;
}
