/**
 * How much RAM the system can give a new process without swapping: `MemAvailable` of /proc/meminfo on
 * Linux (the kernel's estimate: free memory plus reclaimable page cache and slab), else Deno's
 * `systemMemoryInfo().available`.
 *
 * @example
 * ```ts
 * import { readMemAvailable } from "./mem_available.ts";
 * console.log(await readMemAvailable()); // e.g. 24646852608 (bytes), or undefined when unknown
 * ```
 * @module
 */

/**
 * The `MemAvailable` line of /proc/meminfo text, in bytes; `undefined` when absent.
 * @example
 * ```ts
 * parseMemAvailable("MemTotal: 100 kB\nMemAvailable:   2048 kB\n"); // 2097152
 * ```
 */
export function parseMemAvailable(meminfo: string): number | undefined {
  const m = /^MemAvailable:\s+(\d+)\s*kB\s*$/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Options of {@link readMemAvailable} (effects injected for tests). */
export interface ReadMemAvailableOptions {
  /** Reads a text file (default `Deno.readTextFile`). */
  readTextFile?: (path: string) => Promise<string>;
  /** The fallback (default `Deno.systemMemoryInfo().available`). */
  systemAvailable?: () => number | undefined;
}

/**
 * Bytes of RAM available to a new workload, or `undefined` when the system does not say.
 * @example
 * ```ts
 * const ram = await readMemAvailable();
 * if (ram !== undefined && ram < 1 << 30) console.warn("less than 1 GiB available");
 * ```
 */
export async function readMemAvailable(options: ReadMemAvailableOptions = {}): Promise<number | undefined> {
  const read = options.readTextFile ?? Deno.readTextFile;
  try {
    const bytes = parseMemAvailable(await read("/proc/meminfo"));
    if (bytes !== undefined) return bytes;
  } catch {
    // Not Linux, or /proc not mounted: fall through.
  }
  try {
    const available = (options.systemAvailable ?? (() => Deno.systemMemoryInfo().available))();
    return available !== undefined && available > 0 ? available : undefined;
  } catch {
    return undefined;
  }
}
