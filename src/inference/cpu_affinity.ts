/**
 * Keeping a one-thread generation on one CPU (Linux `sched_setaffinity`).
 *
 * With one evaluation thread, node-llama-cpp hands every token back and
 * forth between the JavaScript thread and the worker that runs llama.cpp
 * (decode, then sample: ~6 thread switches per token). Left to the kernel,
 * the two threads land on different CPUs, so every hand-off wakes an idle
 * CPU — in a VM an inter-processor interrupt through the hypervisor. Kept on
 * one CPU, the hand-off is a switch on a CPU that is already awake, and a
 * one-thread generation runs faster, in-process and in a daemon's runner
 * (docs/benchmarks.md). The other CPU stays free for the daemon and its
 * clients, so they no longer wake up on the runner's CPU either.
 *
 * Only `"auto"` decides by itself, and only where it was measured: one
 * evaluation thread, no GPU, Linux, at least two CPUs allowed. It picks the
 * allowed CPU least busy over a short sample, avoiding the CPUs other
 * processes are pinned to (the daemon's other runners, another `lode run`),
 * near-ties drawn at random: two pinned generations on one CPU would halve
 * each other while another CPU idles. Several threads are left to the
 * kernel: llama.cpp's threads spin while they wait for each other, and
 * pinning them with the JavaScript thread was not measured here. An explicit
 * list pins to exactly those CPUs. Pinning is per process (every thread it
 * has; threads it starts later inherit it), so it belongs to a process that
 * runs one model: a daemon's runner, or `lode run` in-process.
 *
 * @example
 * ```ts
 * import { pinProcess, planCpus } from "./cpu_affinity.ts";
 * const cpus = await planCpus("auto", { threads: 1, cpuOnly: true });
 * if (cpus !== null) pinProcess(cpus);
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";

/** `"auto"` (pin a one-thread CPU generation to the least busy CPU), `"off"`, or the CPUs to pin to. */
export type CpuAffinity = "auto" | "off" | number[];

/** Milliseconds of `/proc/stat` sampled to find the least busy CPU. */
const BUSY_SAMPLE_MS = 60;

/**
 * The CPUs in a Linux CPU list (`0-3,8,10-11`), sorted, without repeats.
 *
 * @example
 * ```ts
 * parseCpuList("0-2,5"); // [0, 1, 2, 5]
 * ```
 */
export function parseCpuList(text: string): number[] {
  const cpus = new Set<number>();
  for (const part of text.trim().split(",")) {
    if (part === "") continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m === null) throw new LodeError("USAGE", `not a CPU list: "${text}" (expected e.g. 0-3,8)`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to - from > 4096) throw new LodeError("USAGE", `not a CPU range: "${part}"`);
    for (let c = from; c <= to; c++) cpus.add(c);
  }
  return [...cpus].sort((a, b) => a - b);
}

/**
 * The CPUs this process may run on (`Cpus_allowed_list` of /proc/self/status: a container's cpuset
 * or a `taskset` shows here), or null where that is not known (not Linux).
 *
 * @example
 * ```ts
 * allowedCpus(); // [0, 1] on a 2-CPU Linux machine
 * ```
 */
export function allowedCpus(
  status: () => string = () => Deno.readTextFileSync("/proc/self/status"),
): number[] | null {
  if (Deno.build.os !== "linux") return null;
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(status());
    return m === null ? null : parseCpuList(m[1]!);
  } catch {
    return null;
  }
}

/**
 * Busy time (user, nice, system, irq, softirq, steal) and total time of each CPU, from a `/proc/stat` text.
 *
 * @example
 * ```ts
 * cpuTimes("cpu0 10 0 5 85 0 0 0 0 0 0\n").get(0); // { busy: 15, total: 100 }
 * ```
 */
export function cpuTimes(procStat: string): Map<number, { busy: number; total: number }> {
  const out = new Map<number, { busy: number; total: number }>();
  for (const line of procStat.split("\n")) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = m[2]!
      .trim().split(/\s+/).map(Number);
    const busy = user + nice + system + irq + softirq + steal;
    out.set(Number(m[1]), { busy, total: busy + idle + iowait });
  }
  return out;
}

/** Options of {@link planCpus}. */
export interface PlanCpusOptions {
  /** Evaluation threads of the model (`"auto"` pins only with 1). */
  threads: number;
  /** False when the model runs on a GPU (`"auto"` then does not pin). */
  cpuOnly: boolean;
  /** The allowed CPUs (default {@link allowedCpus}). */
  allowed?: number[] | null;
  /** Reads /proc/stat (default: the file); sampled twice {@link BUSY_SAMPLE_MS} apart. */
  procStat?: () => Promise<string>;
  /** CPUs other processes are pinned to (default {@link cpusPinnedByOthers}): avoided while others are free. */
  pinnedByOthers?: () => Promise<number[]>;
}

/**
 * The CPUs to pin to for `setting`, or null to leave the process to the kernel. An explicit list must be
 * allowed (`USAGE` otherwise).
 *
 * @example
 * ```ts
 * await planCpus("auto", { threads: 1, cpuOnly: true, allowed: [0, 1], pinnedByOthers: async () => [1] }); // [0]
 * await planCpus("auto", { threads: 4, cpuOnly: true }); // null
 * await planCpus([1], { threads: 1, cpuOnly: true, allowed: [0, 1] }); // [1]
 * ```
 */
export async function planCpus(
  setting: CpuAffinity | undefined,
  options: PlanCpusOptions,
): Promise<number[] | null> {
  if (setting === undefined || setting === "off") return null;
  const allowed = options.allowed === undefined ? allowedCpus() : options.allowed;
  if (Array.isArray(setting)) {
    const refused = allowed === null ? [] : setting.filter((c) => !allowed.includes(c));
    if (setting.length === 0 || refused.length > 0) {
      throw new LodeError(
        "USAGE",
        `cannot pin to CPU ${refused.join(",") || "(none)"}: this process may run on ${
          allowed?.join(",") ?? "?"
        }`,
        { details: { cpus: setting, allowed } },
      );
    }
    return [...setting];
  }
  if (options.threads !== 1 || !options.cpuOnly || allowed === null || allowed.length < 2) return null;
  const avoid = new Set(await (options.pinnedByOthers ?? (() => cpusPinnedByOthers(allowed)))());
  const free = allowed.filter((c) => !avoid.has(c));
  const candidates = free.length > 0 ? free : allowed;
  const busy = await busyShares(options.procStat ?? (() => Deno.readTextFile("/proc/stat")));
  const share = (c: number) => busy.get(c) ?? 0;
  const least = Math.min(...candidates.map(share));
  // Near-ties are drawn at random: two processes that start together then seldom take the same CPU.
  const best = candidates.filter((c) => share(c) <= least + 0.05);
  return [best[Math.floor(Math.random() * best.length)]!];
}

/**
 * The CPUs other user processes are pinned to: those whose `Cpus_allowed_list` is narrower than
 * `allowed` (another lode runner, a `taskset`); kernel threads (no command line) are not counted. Empty
 * when /proc cannot be read.
 *
 * @example
 * ```ts
 * await cpusPinnedByOthers([0, 1]); // [0] while another runner is pinned to CPU 0
 * ```
 */
export async function cpusPinnedByOthers(allowed: number[], proc = "/proc"): Promise<number[]> {
  const pinned = new Set<number>();
  try {
    for await (const entry of Deno.readDir(proc)) {
      if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
      const status = await Deno.readTextFile(`${proc}/${entry.name}/status`).catch(() => "");
      const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
      if (m === null) continue; // gone
      let cpus: number[];
      try {
        cpus = parseCpuList(m[1]!);
      } catch {
        continue;
      }
      if (cpus.length >= allowed.length) continue; // not pinned: most processes, one read each
      const cmdline = await Deno.readTextFile(`${proc}/${entry.name}/cmdline`).catch(() => "");
      if (cmdline === "") continue; // a kernel thread (per-CPU ones are pinned by nature), or gone
      for (const c of cpus) if (allowed.includes(c)) pinned.add(c);
    }
  } catch { /* no /proc: nothing known */ }
  return [...pinned].sort((a, b) => a - b);
}

/** Each CPU's busy share over {@link BUSY_SAMPLE_MS} (empty when /proc/stat cannot be read). */
async function busyShares(procStat: () => Promise<string>): Promise<Map<number, number>> {
  try {
    const before = cpuTimes(await procStat());
    await new Promise((r) => setTimeout(r, BUSY_SAMPLE_MS));
    const after = cpuTimes(await procStat());
    const shares = new Map<number, number>();
    for (const [cpu, a] of after) {
      const b = before.get(cpu);
      if (b === undefined || a.total <= b.total) continue;
      shares.set(cpu, (a.busy - b.busy) / (a.total - b.total));
    }
    return shares;
  } catch {
    return new Map();
  }
}

const CPU_SET_BYTES = 128; // glibc's cpu_set_t: 1024 CPUs

type Affinity = Deno.DynamicLibrary<{
  sched_setaffinity: { parameters: ["i32", "usize", "buffer"]; result: "i32" };
}>;
let libc: Affinity | null | undefined;

function openLibc(): Affinity | null {
  if (libc !== undefined) return libc;
  libc = null;
  for (const name of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"]) {
    try {
      libc = Deno.dlopen(name, {
        sched_setaffinity: { parameters: ["i32", "usize", "buffer"], result: "i32" },
      });
      break;
    } catch { /* not this libc, or no FFI permission */ }
  }
  return libc;
}

/**
 * Pins every thread of this process to `cpus` (threads started later inherit it). False where that
 * cannot be done (not Linux, no FFI permission, a CPU not allowed); the process is then left as it was.
 *
 * @example
 * ```ts
 * pinProcess([1]); // true: /proc/self/status now says Cpus_allowed_list: 1
 * ```
 */
export function pinProcess(cpus: number[]): boolean {
  if (Deno.build.os !== "linux" || cpus.length === 0) return false;
  const lib = openLibc();
  if (lib === null) return false;
  const mask = new Uint8Array(CPU_SET_BYTES);
  for (const c of cpus) {
    if (!Number.isInteger(c) || c < 0 || c >= CPU_SET_BYTES * 8) return false;
    mask[c >> 3]! |= 1 << (c & 7);
  }
  let tids: number[];
  try {
    tids = [...Deno.readDirSync("/proc/self/task")].map((e) => Number(e.name));
  } catch {
    return false;
  }
  // The main thread first: if that is refused, nothing was changed.
  tids.sort((a, b) => (a === Deno.pid ? -1 : b === Deno.pid ? 1 : a - b));
  let pinned = 0;
  for (const tid of tids) {
    // A thread that ended since the listing fails (ESRCH): it needs no mask.
    if (lib.symbols.sched_setaffinity(tid, BigInt(CPU_SET_BYTES), mask) === 0) pinned++;
    else if (tid === Deno.pid) return false;
  }
  return pinned > 0;
}

/**
 * Throws `USAGE` unless `value` is a {@link CpuAffinity} (or undefined).
 *
 * @example
 * ```ts
 * checkCpuAffinity([0, 1]); // fine
 * checkCpuAffinity("fast"); // throws LodeError USAGE
 * ```
 */
export function checkCpuAffinity(value: unknown): asserts value is CpuAffinity | undefined {
  if (value === undefined || value === "auto" || value === "off") return;
  if (Array.isArray(value) && value.length > 0 && value.every((c) => Number.isInteger(c) && c >= 0)) return;
  throw new LodeError(
    "USAGE",
    `cpus must be "auto", "off" or a list of CPU numbers, got ${JSON.stringify(value)}`,
    {
      details: { cpus: value },
    },
  );
}

/**
 * Pins this process as a model's load options ask (`LoadOptions.cpus` in backend.ts); call it before the model's context (and its threads) exist. Resolves
 * with the CPUs, or null when the process was left to the kernel (or pinning is not possible here).
 *
 * @example
 * ```ts
 * const cpus = await pinForModel({ cpus: "auto" }, { threads: 1, cpuOnly: true }); // [1], or null
 * ```
 */
export async function pinForModel(
  options: { cpus?: CpuAffinity },
  model: { threads: number; cpuOnly: boolean },
): Promise<number[] | null> {
  const cpus = await planCpus(options.cpus, model);
  return cpus !== null && pinProcess(cpus) ? cpus : null;
}
