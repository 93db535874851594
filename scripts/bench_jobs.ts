/**
 * `lode job ls` with 1,000 job records: writes 1,000 records (of several kinds and states) into a temp
 * store, then times `deno run -A main.ts job ls` and `job ls --json` through the real CLI, with
 * `deno run -A` of an empty file as the runtime's floor.
 *
 * ```sh
 * deno run -A scripts/bench_jobs.ts [--records 1000] [--runs 10]
 * ```
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { median } from "./bench_report.ts";
import { timeOnce } from "./bench_startup.ts";
import { JobRecords } from "../src/jobs/job_record.ts";
import { parseJobSpec } from "../src/jobs/job_spec.ts";
import { planJob } from "../src/jobs/job_plan.ts";

const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));

const SPECS: [string, Record<string, unknown>][] = [
  ["model-download", { ref: "hf:Qwen/Qwen3-0.6B-GGUF:Q8_0" }],
  ["model-external-command", { model: "stories260K", command: "sha256sum", args: ["{model}"] }],
  ["model-validate-bundle", { model: "stories260K" }],
  ["model-materialize-bundle", { model: "stories260K", target: "out" }],
];

/** Writes `count` finished records into the store at `root`. */
export async function writeRecords(root: string, count: number): Promise<void> {
  const records = new JobRecords(root);
  const start = Date.now() - count * 1000;
  for (let i = 0; i < count; i++) {
    const [kind, spec] = SPECS[i % SPECS.length]!;
    const r = await records.create(planJob(parseJobSpec(kind, spec)), root, new Date(start + i * 1000));
    const state = i % 7 === 0 ? "failed" : "succeeded";
    await records.write({
      ...r,
      state,
      started_at: r.created_at,
      finished_at: r.created_at,
      progress: { ...r.progress, done: 3, total: 3 },
      error: state === "failed" ? { code: "EXTERNAL_COMMAND_FAILED", message: "exited with status 1" } : null,
    });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { records: { type: "string", default: "1000" }, runs: { type: "string", default: "10" } },
  });
  const dir = await Deno.makeTempDir({ prefix: "lode-bench-jobs-" });
  try {
    const store = `${dir}/store`;
    await writeRecords(store, Number(values.records));
    await Deno.writeTextFile(`${dir}/empty.ts`, "");
    const env = { MODELS_HOME: store, NO_COLOR: "1", XDG_CONFIG_HOME: `${dir}/.no-config` };
    const commands: [string, string[]][] = [
      ["floor (empty file)", ["run", "-A", `${dir}/empty.ts`]],
      ["lode job ls", ["run", "-A", MAIN_TS, "job", "ls"]],
      ["lode job ls --json", ["run", "-A", MAIN_TS, "job", "ls", "--json"]],
    ];
    for (const [, args] of commands) await timeOnce(args, env); // warm-up: module cache
    const times = new Map<string, number[]>(commands.map(([name]) => [name, []]));
    for (let run = 0; run < Number(values.runs); run++) {
      for (const [name, args] of commands) times.get(name)!.push(1000 * await timeOnce(args, env));
    }
    console.log(`${values.records} job records, ${values.runs} runs each (wall time, median and fastest):`);
    for (const [name, ms] of times) {
      console.log(`  ${name.padEnd(22)} ${median(ms).toFixed(1)} ms  (min ${Math.min(...ms).toFixed(1)} ms)`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
