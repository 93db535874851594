/**
 * The live child processes of this process, from /proc: tests use it to show that nothing a test
 * started (runner processes) outlives it.
 *
 * @example
 * ```ts
 * assertEquals(await childPids(), []);
 * ```
 * @module
 */

/** Pids of the live children of `parent` (default: this process). */
export async function childPids(parent: number = Deno.pid): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === parent) pids.push(Number(entry.name));
  }
  return pids;
}

/**
 * Pids of the live runner processes (`lode __runner`) among the children of `parent`: the count a
 * daemon test asserts, without the short-lived process node-llama-cpp forks to test its binding
 * before loading it (in the daemon when it opens a vocabulary).
 */
export async function runnerPids(parent: number): Promise<number[]> {
  const pids: number[] = [];
  for (const pid of await childPids(parent)) {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    if (cmdline.split("\0").includes("__runner")) pids.push(pid);
  }
  return pids;
}

/** True while a process with this pid exists (a reaped child's pid is gone). */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}
