/**
 * How lode knows that it wrote (or last verified) a blob itself: a small
 * store-local record, `locks/verified/sha256-<hex>.json`, of the blob file's
 * identity when lode committed or re-hashed it — device, inode, size, mtime,
 * ctime and birth time. A cache restore (`tar -x`, `actions/cache`) creates a
 * new file: a new inode and birth time, and a ctime of "now", none of which
 * user space can set back; so a restored blob never matches its record and is
 * re-hashed before it is trusted. The record may travel inside the archive:
 * it describes a file that no longer exists.
 *
 * Deno reports ctime to the second only; the birth time (statx, milliseconds)
 * is what tells a restored file from the one lode wrote. Where a file system
 * has no birth time, a restore is still caught by its new inode or ctime.
 * A record is a fast path, never a proof of content: `lode verify` always re-hashes.
 * @module
 */
import { joinPath } from "../path.ts";
import { writeFileAtomic } from "./atomic_write.ts";
import type { StoreLayout } from "./layout.ts";

/** The identity of a blob file when lode last knew its bytes were right. */
export interface VerifiedRecord {
  sha256: string;
  dev: number;
  ino: number | null;
  size: number;
  mtime_ms: number | null;
  ctime_ms: number | null;
  birthtime_ms: number | null;
}

/** Where the record of blob `hex` lives. */
export function verifiedRecordPath(layout: StoreLayout, hex: string): string {
  // blobPath validates hex; the record sits beside the store's locks, outside the blob directory.
  layout.blobPath(hex);
  return joinPath(layout.locksDir, "verified", `sha256-${hex}.json`);
}

/** The identity of the committed blob `hex` now, or null when it is missing. */
async function blobIdentity(layout: StoreLayout, hex: string): Promise<VerifiedRecord | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(layout.blobPath(hex));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  return {
    sha256: hex,
    dev: info.dev,
    ino: info.ino,
    size: info.size,
    mtime_ms: info.mtime?.getTime() ?? null,
    ctime_ms: info.ctime?.getTime() ?? null,
    birthtime_ms: info.birthtime?.getTime() ?? null,
  };
}

/**
 * Records that the committed blob `hex` holds verified bytes. Call it only right after the bytes were
 * hashed (commit, re-hash) with the blob lock held. Best effort: a record that cannot be written only
 * costs a re-hash later.
 */
export async function recordVerified(layout: StoreLayout, hex: string): Promise<void> {
  try {
    const identity = await blobIdentity(layout, hex);
    if (!identity) return;
    await writeFileAtomic(verifiedRecordPath(layout, hex), JSON.stringify(identity) + "\n");
  } catch {
    // A missing record means "re-hash next time": safe.
  }
}

/** Drops the record of `hex` (its bytes were found wrong or removed). Best effort. */
export async function forgetVerified(layout: StoreLayout, hex: string): Promise<void> {
  await Deno.remove(verifiedRecordPath(layout, hex)).catch(() => {});
}

/**
 * Removes the records of blobs that are no longer in the store (`lode rm`,
 * `lode gc`) and of names that are not records, and returns how many went.
 * Housekeeping only: a stale record can never vouch for a new file, whose
 * identity differs. `dryRun` counts without removing.
 */
export async function pruneVerifiedRecords(
  layout: StoreLayout,
  options: { dryRun: boolean },
): Promise<number> {
  const dir = joinPath(layout.locksDir, "verified");
  let pruned = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      const hex = /^sha256-([0-9a-f]{64})\.json$/.exec(entry.name)?.[1];
      if (hex !== undefined && (await blobIdentity(layout, hex)) !== null) continue;
      // Atomic-write temporaries of a record being written right now are left alone.
      if (entry.name.startsWith(".tmp-")) continue;
      if (!options.dryRun) await Deno.remove(joinPath(dir, entry.name)).catch(() => {});
      pruned++;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return pruned;
}

/**
 * True when blob `hex` is the very file lode committed or last verified: same device, inode, size,
 * mtime, ctime and birth time as recorded. False when it is missing, has no record, or differs in any.
 */
export async function isVerifiedByLode(layout: StoreLayout, hex: string): Promise<boolean> {
  let recorded: Partial<VerifiedRecord>;
  try {
    recorded = JSON.parse(await Deno.readTextFile(verifiedRecordPath(layout, hex)));
  } catch {
    return false;
  }
  const now = await blobIdentity(layout, hex).catch(() => null);
  if (!now || typeof recorded !== "object" || recorded === null) return false;
  // Every field must have been recorded; an identity the platform cannot give (null) must stay null.
  return (Object.keys(now) as (keyof VerifiedRecord)[]).every((k) => k in recorded && recorded[k] === now[k]);
}
