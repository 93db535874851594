/**
 * Whether the process that runs a job is still alive. On Linux, `/proc/<pid>/stat` gives a process's
 * start time (in clock ticks since boot), so a pid the kernel reused for another process is not taken
 * for the job's. Where there is no `/proc`, a process is taken as alive.
 *
 * @example
 * ```ts
 * import { processAlive, processStart } from "./process_alive.ts";
 * const start = await processStart(Deno.pid);
 * await processAlive(Deno.pid, start); // true
 * ```
 * @module
 */

/** The start time of process `pid` (`/proc/<pid>/stat`'s 22nd field); null when it cannot be read or it is a zombie. */
export async function processStart(pid: number): Promise<string | null> {
  let stat: string;
  try {
    stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return null; // exited, not yet reaped
  return fields[19] ?? null;
}

/** True when process `pid` runs and (when `start` is known) started at `start`. */
export async function processAlive(pid: number, start: string | null): Promise<boolean> {
  const hasProc = await Deno.stat("/proc/self/stat").then(() => true, () => false);
  if (!hasProc) return true;
  const now = await processStart(pid);
  if (now === null) return false;
  return start === null || now === start;
}
