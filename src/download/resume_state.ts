/**
 * The resume sidecar of a partial download (`.partial-<hex>/state.json`, after
 * ollama's `server/download.go` part files): where the bytes came from, the
 * validators that prove the origin still serves the same file, and how much of
 * each part is on disk. Written atomically after the data it describes has been
 * synced, so after a SIGKILL or a reboot it never claims bytes that are not there.
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
  updated_at: z.string(),
});
export type ResumeState = z.infer<typeof ResumeState>;

const FILE = "state.json";

/** The sidecar in `partialDir`, or `null` when there is none or it cannot be trusted. */
export async function readResumeState(partialDir: string): Promise<ResumeState | null> {
  try {
    const parsed = ResumeState.safeParse(JSON.parse(await Deno.readTextFile(`${partialDir}/${FILE}`)));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Writes the sidecar atomically. */
export async function writeResumeState(
  partialDir: string,
  state: Omit<ResumeState, "updated_at">,
): Promise<void> {
  const full: ResumeState = { ...state, updated_at: new Date().toISOString() };
  await writeFileAtomic(`${partialDir}/${FILE}`, JSON.stringify(full) + "\n");
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
