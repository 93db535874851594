/**
 * The resume sidecar of a partial download (`.partial-<hex>/state.json`, after
 * ollama's `server/download.go` part files): where the bytes came from, the
 * validators that prove the origin still serves the same file, and how much of
 * each part is on disk.
 *
 * `parts` counts the bytes written (in the page cache: a killed process loses
 * none of them), `synced_parts` the bytes as of the last sync of the data, and
 * `boot_id` the boot they were written in. Read in the same boot, `parts` is
 * trusted; after a reboot (or a crash of the machine) only `synced_parts` is,
 * so the sidecar never claims bytes that are not there, while the data is
 * synced only every few hundred MiB and once at the end. The sidecar itself is
 * renamed into place without a sync: after a crash it may be older, or absent.
 * @module
 */
import { z } from "zod";
import { writeFileAtomic } from "../store/atomic_write.ts";

export const PartState = z.object({
  start: z.number().int().nonnegative(),
  end: z.number().int().nonnegative(),
  /** Bytes of this part (from `start`) known to be on disk. */
  done: z.number().int().nonnegative(),
});
export type PartState = z.infer<typeof PartState>;

export const ResumeState = z.object({
  version: z.literal(1),
  /** The URL the user asked for. */
  url: z.string(),
  size: z.number().int().nonnegative(),
  etag: z.string().nullable(),
  last_modified: z.string().nullable(),
  parts: z.array(PartState),
  /** How far the hash had got (informational: the hash state itself cannot be saved, the prefix is re-hashed). */
  hashed: z.number().int().nonnegative(),
  /** The boot `parts` was written in (Linux's boot_id); null where the system has none. */
  boot_id: z.string().nullable().optional(),
  /** `parts` as of the last sync of the data: what survives a crash of the machine. */
  synced_parts: z.array(PartState).optional(),
  updated_at: z.string(),
});
export type ResumeState = z.infer<typeof ResumeState>;

const FILE = "state.json";

let currentBoot: Promise<string | null> | null = null;

/**
 * This boot's id: Linux's /proc/sys/kernel/random/boot_id; where that cannot be read (another system, a
 * container that hides it), the minute the system booted (`boot-at:` the clock less the uptime); null where
 * neither is known. Two readings in one boot that straddle a minute differ: the reader then trusts only
 * the synced bytes, which is safe.
 */
export function bootId(): Promise<string | null> {
  currentBoot ??= Deno.readTextFile("/proc/sys/kernel/random/boot_id").then(
    (t) => t.trim() || bootMinute(),
    () => bootMinute(),
  );
  return currentBoot;
}

function bootMinute(): string | null {
  try {
    return `boot-at:${Math.round((Date.now() / 1000 - Deno.osUptime()) / 60)}`;
  } catch {
    return null;
  }
}

/**
 * The sidecar in `partialDir`, or `null` when there is none or it cannot be trusted. Its `parts` are the
 * bytes that are there now: the written ones in the boot that wrote them, else the synced ones.
 */
export async function readResumeState(partialDir: string): Promise<ResumeState | null> {
  let state: ResumeState;
  try {
    const parsed = ResumeState.safeParse(JSON.parse(await Deno.readTextFile(`${partialDir}/${FILE}`)));
    if (!parsed.success) return null;
    state = parsed.data;
  } catch {
    return null;
  }
  // A sidecar without boot_id was written after syncing the data it describes.
  if (state.boot_id === undefined) return state;
  const boot = await bootId();
  if (boot !== null && state.boot_id === boot) return state;
  const synced = state.synced_parts;
  if (!synced || synced.length !== state.parts.length) return null;
  return { ...state, parts: synced };
}

/** Writes the sidecar atomically (without syncing it: see the module comment). */
export async function writeResumeState(
  partialDir: string,
  state: Omit<ResumeState, "updated_at">,
): Promise<void> {
  const full: ResumeState = { ...state, updated_at: new Date().toISOString() };
  await writeFileAtomic(`${partialDir}/${FILE}`, JSON.stringify(full) + "\n", { sync: false });
}

/** True when a part still has bytes to fetch. */
export function isIncomplete(part: PartState): boolean {
  return part.start + part.done < part.end;
}

/** Bytes of the file's contiguous prefix that are on disk. */
export function contiguousPrefix(parts: readonly PartState[]): number {
  let prefix = 0;
  for (const p of parts) {
    if (p.start !== prefix) break;
    prefix = p.start + p.done;
    if (isIncomplete(p)) break;
  }
  return prefix;
}

/** Splits `size` bytes into parts of `partBytes` (the last one shorter). */
export function planParts(size: number, partBytes: number): PartState[] {
  const parts: PartState[] = [];
  for (let start = 0; start < size; start += partBytes) {
    parts.push({ start, end: Math.min(size, start + partBytes), done: 0 });
  }
  return parts;
}
