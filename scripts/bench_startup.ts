/**
 * Startup cost of the CLI: wall time of `deno run -A main.ts --version` and `deno run -A main.ts ls` on an
 * empty store, against `deno run -A` of an empty file (the runtime's own floor).
 *
 * ```sh
 * deno run -A scripts/bench_startup.ts [--runs 20] [--out FILE.json]
 * ```
 * One untimed warm-up per command first (module cache); then the commands are interleaved, run by run.
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { median } from "./bench_report.ts";

const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));

/** Wall times (seconds) of one command. */
export interface StartupRow {
  name: string;
  args: string[];
  seconds: number[];
  median_s: number;
  min_s: number;
  /** Median above the empty-file floor. */
  over_floor_s: number;
}

/** Wall time (seconds) of one `deno ARGS` run in `env`; a failed run throws with its stderr. */
export async function timeOnce(args: string[], env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  })
    .output();
  const s = (performance.now() - t0) / 1000;
  if (!out.success) throw new Error(`deno ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  return s;
}

/**
 * Measures the three commands `runs` times each and returns one row per command, floor first.
 * @example
 * ```ts
 * const rows = await measureStartup({ runs: 5, dir: await Deno.makeTempDir() });
 * ```
 */
export async function measureStartup(options: { runs: number; dir: string }): Promise<StartupRow[]> {
  const { dir, runs } = options;
  const empty = `${dir}/empty.ts`;
  await Deno.writeTextFile(empty, "");
  await Deno.mkdir(`${dir}/store`);
  const env = {
    ...Deno.env.toObject(),
    NO_COLOR: "1",
    XDG_CONFIG_HOME: `${dir}/config`,
    MODELS_HOME: `${dir}/store`,
  };
  const cases = [
    { name: "deno run -A empty.ts (floor)", args: ["run", "-A", empty] },
    { name: "lode --version", args: ["run", "-A", MAIN_TS, "--version"] },
    { name: "lode ls (empty store)", args: ["run", "-A", MAIN_TS, "--store", `${dir}/store`, "ls"] },
  ];
  for (const c of cases) await timeOnce(c.args, env);
  const seconds = cases.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [j, c] of cases.entries()) seconds[j]!.push(await timeOnce(c.args, env));
  }
  const floor = median(seconds[0]!);
  return cases.map((c, j) => ({
    ...c,
    seconds: seconds[j]!,
    median_s: median(seconds[j]!),
    min_s: Math.min(...seconds[j]!),
    over_floor_s: median(seconds[j]!) - floor,
  }));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { runs: { type: "string", default: "20" }, out: { type: "string" } },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`bad --runs ${values.runs}`);
  const dir = await Deno.makeTempDir({ prefix: "lode-startup-" });
  try {
    const rows = await measureStartup({ runs, dir });
    const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`.padStart(8);
    console.log(`deno ${Deno.version.deno}, ${runs} runs each (wall time of the whole process)\n`);
    console.log(`${"command".padEnd(30)}  ${"median".padStart(8)}  ${"min".padStart(8)}  over floor`);
    for (const r of rows) {
      console.log(`${r.name.padEnd(30)}  ${ms(r.median_s)}  ${ms(r.min_s)}  ${ms(r.over_floor_s)}`);
    }
    if (values.out) await Deno.writeTextFile(values.out, JSON.stringify(rows, null, 2) + "\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
