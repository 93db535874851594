/**
 * Measuring the processes a benchmark runs: a command under `/usr/bin/time` ({@link timedCommand}), and the
 * CPU time and peak memory of a live process and its descendants read from `/proc` ({@link treeUsage} of
 * {@link processTree}) — for a server started apart from the command measured (a daemon, nginx).
 *
 * @example
 * ```ts
 * import { processTree, timedCommand, treeUsage } from "./bench_process.ts";
 * const r = await timedCommand(["sleep", "0.1"], {});
 * console.log(r.wallMs, r.cpuS, r.peakKiB, treeUsage(processTree(Deno.pid)).cpuS);
 * ```
 * @module
 */

/** What {@link timedCommand} measured. */
export interface TimedRun {
  code: number;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** User + system seconds (0 when `/usr/bin/time` printed nothing). */
  cpuS: number;
  /** Peak RSS in KiB. */
  peakKiB: number;
}

/** Runs `argv` under `/usr/bin/time`: its output, wall time, CPU time (user + system) and peak RSS. */
export async function timedCommand(argv: string[], env: Record<string, string>): Promise<TimedRun> {
  const started = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "TIME %U %S %M", ...argv],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const wallMs = performance.now() - started;
  const stderr = new TextDecoder().decode(out.stderr);
  const [user, system, rss] = (stderr.match(/TIME (\S+) (\S+) (\d+)\s*$/)?.slice(1) ?? ["0", "0", "0"]).map(
    Number,
  );
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr,
    wallMs,
    cpuS: user! + system!,
    peakKiB: rss!,
  };
}

/** The pids of `pid` and its descendants (Linux `/proc/PID/task/PID/children`). */
export function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/).filter((v) =>
      v !== ""
    ).map(Number);
  } catch {
    // gone
  }
  return [pid, ...children.flatMap(processTree)];
}

/** Peak RSS (KiB) and CPU seconds (user + system) of the live processes `pids`, summed. */
export function treeUsage(pids: number[]): { peakKiB: number; cpuS: number } {
  let peakKiB = 0;
  let cpuS = 0;
  for (const pid of pids) {
    try {
      peakKiB += Number(Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmHWM:\s+(\d+)/)?.[1] ?? 0);
      const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).replace(/^.*\) /, "").split(" ");
      cpuS += (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14, 15) in ticks
    } catch {
      // gone
    }
  }
  return { peakKiB, cpuS };
}
