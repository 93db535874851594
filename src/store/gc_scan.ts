/**
 * What `lode gc` looks at on disk: the blob and partial directories,
 * quarantined files, leftover temporary manifests, and non-blocking lock
 * probes (the blobs manifests reference are `ModelStore.referencedBlobs`).
 * Read-only; the decisions are `gc.ts`'s.
 * @module
 */
import { joinPath } from "../path.ts";
import { LodeError, toLodeError } from "../errors.ts";
import { acquireFileLock } from "./file_lock.ts";
import { isSha256Hex, type StoreLayout } from "./layout.ts";

/** A directory or file on disk with its size and the time it was last written. */
export interface DiskItem {
  path: string;
  /** Bytes on disk (allocated blocks), what removing it frees. */
  bytes: number;
  /** Latest modification time of the item and the files directly in it (ms since the epoch). */
  lastWriteMs: number;
}

/** What lies under `blobs/sha256/`. */
export interface BlobsScan {
  /** Committed blob directories, by hex. */
  blobs: Map<string, string>;
  /** `.partial-<hex>` directories of pinned downloads, by hex (guarded by the blob lock of hex). */
  partials: Map<string, string>;
  /** `un/.partial-<key>` directories of unpinned downloads and imports (guarded by a name lock). */
  unpinned: string[];
}

/** A non-blocking hold on a lock; `null` from {@link tryHold} when another process has it. */
export interface Hold {
  release(): Promise<void>;
}

async function readDirOrEmpty(dir: string): Promise<Deno.DirEntry[]> {
  try {
    return await Array.fromAsync(Deno.readDir(dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw toLodeError(e, "IO");
  }
}

/**
 * The upload records of pushes not finished (`locks/uploads/*.json`, written by
 * src/registry/oci/upload_state.ts), and the `.tmp-*` files a push killed while writing one left: an
 * upload URL each, no bytes of the model.
 */
export async function scanUploadRecords(layout: StoreLayout): Promise<string[]> {
  const dir = joinPath(layout.locksDir, "uploads");
  return (await readDirOrEmpty(dir))
    .filter((e) => e.isFile && (e.name.endsWith(".json") || e.name.startsWith(".tmp-")))
    .map((e) => joinPath(dir, e.name));
}

/** Lists blob directories and partial downloads under `blobs/sha256/`. */
export async function scanBlobsDir(layout: StoreLayout): Promise<BlobsScan> {
  const scan: BlobsScan = { blobs: new Map(), partials: new Map(), unpinned: [] };
  for (const shard of await readDirOrEmpty(layout.blobsDir)) {
    if (!shard.isDirectory) continue;
    const shardDir = joinPath(layout.blobsDir, shard.name);
    for (const entry of await readDirOrEmpty(shardDir)) {
      if (!entry.isDirectory) continue;
      const path = joinPath(shardDir, entry.name);
      const partialOf = entry.name.startsWith(".partial-") ? entry.name.slice(".partial-".length) : null;
      if (shard.name === "un") {
        if (partialOf !== null) scan.unpinned.push(path);
      } else if (partialOf !== null && isSha256Hex(partialOf) && partialOf.startsWith(shard.name)) {
        scan.partials.set(partialOf, path);
      } else if (isSha256Hex(entry.name) && entry.name.startsWith(shard.name)) {
        scan.blobs.set(entry.name, path);
      }
    }
  }
  return scan;
}

/** Size and last write of a file, or of a directory and the files directly in it; `null` when gone. */
export async function diskItem(path: string): Promise<DiskItem | null> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw toLodeError(e, "IO");
  }
  const item = { path, bytes: 0, lastWriteMs: stat.mtime?.getTime() ?? 0 };
  const add = (s: Deno.FileInfo) => {
    item.bytes += s.blocks !== null ? s.blocks * 512 : s.size;
    item.lastWriteMs = Math.max(item.lastWriteMs, s.mtime?.getTime() ?? 0);
  };
  if (!stat.isDirectory) {
    add(stat);
    return item;
  }
  for (const entry of await readDirOrEmpty(path)) {
    const s = await Deno.lstat(joinPath(path, entry.name)).catch(() => null);
    if (s && !s.isDirectory) add(s);
  }
  return item;
}

/** Paths of the per-name lock files (`locks/<name>.lock`, not the `sha256-<hex>.lock` blob locks). */
export async function nameLockPaths(layout: StoreLayout): Promise<string[]> {
  return (await readDirOrEmpty(layout.locksDir))
    .filter((e) => e.isFile && e.name.endsWith(".lock") && !/^sha256-[0-9a-f]{64}\.lock$/.test(e.name))
    .map((e) => joinPath(layout.locksDir, e.name))
    .sort();
}

/**
 * Tries the lock at `path` without waiting: `null` when another process holds it. With `probe`
 * (dry runs) a missing lock file counts as free and is not created, so nothing on disk changes.
 */
export async function tryHold(
  path: string,
  options: { label: string; probe: boolean },
): Promise<Hold | null> {
  if (!options.probe) {
    try {
      return await acquireFileLock(path, { name: options.label, wait: false });
    } catch (e) {
      if (e instanceof LodeError && e.code === "LOCK_CONTENDED") return null;
      throw e;
    }
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { release: () => Promise.resolve() };
    throw toLodeError(e, "IO");
  }
  if (!(await file.tryLock(true))) {
    file.close();
    return null;
  }
  return {
    async release() {
      await file.unlock().catch(() => {});
      file.close();
    },
  };
}

/** Quarantined items: each `<base>.data` with its `<base>.json` record, grouped; stray files alone. */
export async function scanQuarantine(layout: StoreLayout): Promise<string[][]> {
  const groups = new Map<string, string[]>();
  for (const entry of await readDirOrEmpty(layout.quarantineDir)) {
    if (!entry.isFile) continue;
    const base = entry.name.replace(/\.(data|json)$/, "");
    const group = groups.get(base) ?? [];
    group.push(joinPath(layout.quarantineDir, entry.name));
    groups.set(base, group);
  }
  return [...groups.keys()].sort().map((k) => groups.get(k)!.sort());
}

/** Leftover `.tmp-*` files of interrupted atomic manifest writes. */
export async function scanManifestTemps(layout: StoreLayout): Promise<string[]> {
  return (await readDirOrEmpty(layout.manifestsDir))
    .filter((e) => e.isFile && e.name.startsWith(".tmp-"))
    .map((e) => joinPath(layout.manifestsDir, e.name));
}
