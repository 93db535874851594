/**
 * `lode gc`: frees the space of what no model needs — blobs no manifest
 * references, partial downloads and leftover temp files not written to for a
 * while (default 24 h), the upload records of pushes never finished (default
 * 7 days: a registry keeps an upload open about that long), and, when asked,
 * old quarantined files — without ever racing a running pull:
 *
 * - a blob is removed only while gc holds its blob lock (taken without
 *   waiting), and only if, with the lock held, no manifest references it:
 *   every writer commits a blob and writes the manifest naming it under that
 *   lock (`pull_model.ts`, `import_file.ts`, `bundle_import.ts`), so a blob
 *   committed by a pull that has not written its manifest yet is skipped;
 * - a `.partial-<hex>` directory is written only under the blob lock of
 *   `<hex>`: a held lock means a live download (skipped and reported);
 * - `un/.partial-*` directories (unpinned downloads, file imports) and
 *   `manifests/.tmp-*` files are written under a model's name lock, and which
 *   name is not recorded: gc removes them only while it holds every name lock.
 *   They are renamed before removal, so a process that started meanwhile fails
 *   cleanly instead of writing into a directory being deleted.
 *
 * Locks are only ever tried, never waited for, so gc cannot deadlock with
 * anything. `dryRun` changes nothing on disk, not even lock files.
 *
 * @example
 * ```ts
 * import { ModelStore } from "./model_store.ts";
 * const store = await ModelStore.open("/srv/models");
 * const summary = await collectGarbage(store, { olderThanMs: 86_400_000, onEvent: (e) => console.log(e) });
 * console.log(`${summary.bytesFreed} bytes freed`);
 * ```
 * @module
 */
import { LodeError, toLodeError } from "../errors.ts";
import type { GcEvent, GcKind } from "../events/store_event.ts";
import { parentDir } from "../path.ts";
import type { ModelStore } from "./model_store.ts";
import {
  type DiskItem,
  diskItem,
  type Hold,
  nameLockPaths,
  scanBlobsDir,
  scanManifestTemps,
  scanQuarantine,
  scanUploadRecords,
  tryHold,
} from "./gc_scan.ts";
import { forgetVerified, pruneVerifiedRecords } from "./verified_record.ts";

/**
 * `GcKind`: what gc removes; `GcEvent`: one event of a gc run (`--json` prints them as NDJSON). Both are
 * the zod schemas of `src/events/store_event.ts`, the wire format.
 */
export type { GcEvent, GcKind };

/** Options of {@link collectGarbage}. */
export interface GcOptions {
  /** Partials, temp files and quarantined files last written longer ago than this are removed. */
  olderThanMs: number;
  /** Report what would be removed; change nothing. */
  dryRun?: boolean;
  /** Also remove quarantined files older than the threshold. */
  quarantine?: boolean;
  /**
   * Upload records of pushes not finished (`locks/uploads/`) last written longer ago than this are
   * removed (default 7 days). A running push rewrites its record after each chunk.
   */
  uploadsOlderThanMs?: number;
  /** The clock (ms since the epoch). */
  now?: () => number;
  onEvent?: (event: GcEvent) => void;
}

/** The totals of a gc run. */
export interface GcSummary {
  removed: number;
  /** Bytes on disk freed (or that would be, with `dryRun`). */
  bytesFreed: number;
  /** Items left because another process held their lock. */
  skippedLocked: number;
  /** Partials and temp files left because they were written recently. */
  keptRecent: number;
  /** What stays in quarantine (all of it without `quarantine`). */
  quarantineKept: { items: number; bytes: number };
  /** Records in `locks/verified/` of blobs no longer in the store, removed (or that would be). */
  verifiedRecordsPruned: number;
  dryRun: boolean;
}

/** The default age after which an upload record goes: 7 days. */
export const UPLOADS_OLDER_THAN_MS = 7 * 24 * 3600 * 1000;

/** Collects the garbage of `store`. */
export async function collectGarbage(store: ModelStore, options: GcOptions): Promise<GcSummary> {
  const run = new GcRun(store, options);
  await run.blobs();
  await run.uploads();
  await run.quarantine();
  run.summary.verifiedRecordsPruned = await pruneVerifiedRecords(store.layout, {
    dryRun: run.summary.dryRun,
  });
  return run.summary;
}

class GcRun {
  readonly summary: GcSummary;
  readonly #store: ModelStore;
  readonly #options: GcOptions;
  readonly #now: number;
  readonly #emit: (event: GcEvent) => void;

  constructor(store: ModelStore, options: GcOptions) {
    this.#store = store;
    this.#options = options;
    this.#now = (options.now ?? Date.now)();
    this.#emit = options.onEvent ?? (() => {});
    this.summary = {
      removed: 0,
      bytesFreed: 0,
      skippedLocked: 0,
      keptRecent: 0,
      quarantineKept: { items: 0, bytes: 0 },
      verifiedRecordsPruned: 0,
      dryRun: options.dryRun === true,
    };
  }

  async blobs(): Promise<void> {
    const { layout } = this.#store;
    const references = () =>
      this.#store.referencedBlobs((p) => {
        this.#emit({ event: "problem", ...p.toJSON() });
      });
    const scan = await scanBlobsDir(layout);
    const before = await references();
    // Blobs: hold the lock of every unreferenced one, then look at the manifests again.
    const held: { hex: string; path: string; hold: Hold }[] = [];
    try {
      for (const [hex, path] of scan.blobs) {
        if (before.has(hex)) continue;
        const hold = await this.#tryBlobLock(hex);
        if (hold) held.push({ hex, path, hold });
        else await this.#skipLocked("blob", path);
      }
      const after = held.length > 0 ? await references() : before;
      for (const { hex, path } of held) {
        if (!after.has(hex)) {
          await this.#collect("blob", path);
          if (!this.summary.dryRun) await forgetVerified(layout, hex);
        }
      }
    } finally {
      for (const { hold } of held) await hold.release();
    }
    for (const [hex, path] of scan.partials) {
      const hold = await this.#tryBlobLock(hex);
      if (!hold) {
        await this.#skipLocked("partial", path);
        continue;
      }
      try {
        await this.#collectIfOld("partial", path);
      } finally {
        await hold.release();
      }
    }
    await this.#nameGuarded([
      ...scan.unpinned.map((path) => ({ kind: "partial" as const, path })),
      ...(await scanManifestTemps(layout)).map((path) => ({ kind: "temp" as const, path })),
    ]);
  }

  /** Upload records older than their threshold; the next push of a record gc left asks the registry. */
  async uploads(): Promise<void> {
    const olderThanMs = this.#options.uploadsOlderThanMs ?? UPLOADS_OLDER_THAN_MS;
    for (const path of await scanUploadRecords(this.#store.layout)) {
      await this.#collectIfOld("upload", path, { olderThanMs });
    }
  }

  async quarantine(): Promise<void> {
    for (const group of await scanQuarantine(this.#store.layout)) {
      const items = (await Promise.all(group.map(diskItem))).filter((i): i is DiskItem => i !== null);
      const bytes = items.reduce((n, i) => n + i.bytes, 0);
      const lastWriteMs = Math.max(0, ...items.map((i) => i.lastWriteMs));
      const old = this.#now - lastWriteMs > this.#options.olderThanMs;
      if (!this.#options.quarantine || !old) {
        this.summary.quarantineKept.items++;
        this.summary.quarantineKept.bytes += bytes;
        if (this.#options.quarantine) this.#skipRecent("quarantine", { path: group[0]!, bytes, lastWriteMs });
        continue;
      }
      if (!this.summary.dryRun) { for (const i of items) await Deno.remove(i.path).catch(ignoreNotFound); }
      this.#collected("quarantine", { path: group[0]!, bytes, lastWriteMs });
    }
  }

  /** Items written under some name lock: removed only when old and while every name lock is held. */
  async #nameGuarded(candidates: { kind: GcKind; path: string }[]): Promise<void> {
    const old: { kind: GcKind; item: DiskItem }[] = [];
    for (const c of candidates) {
      const item = await diskItem(c.path);
      if (!item) continue;
      if (this.#now - item.lastWriteMs > this.#options.olderThanMs) old.push({ kind: c.kind, item });
      else this.#skipRecent(c.kind, item);
    }
    if (old.length === 0) return;
    const holds: Hold[] = [];
    try {
      for (const path of await nameLockPaths(this.#store.layout)) {
        const hold = await tryHold(path, { label: path, probe: this.summary.dryRun });
        if (!hold) {
          for (const { kind, item } of old) this.#skipLockedItem(kind, item);
          return;
        }
        holds.push(hold);
      }
      for (const { kind, item } of old) await this.#collectIfOld(kind, item.path, { rename: true });
    } finally {
      for (const hold of holds) await hold.release();
    }
  }

  #tryBlobLock(hex: string): Promise<Hold | null> {
    return tryHold(this.#store.layout.blobLockPath(hex), {
      label: `sha256:${hex}`,
      probe: this.summary.dryRun,
    });
  }

  /** Removes `path` when its last write is older than the threshold (looked at again, under the lock). */
  async #collectIfOld(
    kind: GcKind,
    path: string,
    options: { rename?: boolean; olderThanMs?: number } = {},
  ): Promise<void> {
    const item = await diskItem(path);
    if (!item) return;
    const threshold = options.olderThanMs ?? this.#options.olderThanMs;
    if (this.#now - item.lastWriteMs <= threshold) return this.#skipRecent(kind, item);
    await this.#remove(item.path, options);
    this.#collected(kind, item);
  }

  async #collect(kind: GcKind, path: string): Promise<void> {
    const item = await diskItem(path);
    if (!item) return;
    await this.#remove(path, {});
    this.#collected(kind, item);
  }

  async #remove(path: string, options: { rename?: boolean }): Promise<void> {
    if (this.summary.dryRun) return;
    let target = path;
    if (options.rename) {
      target = `${parentDir(path)}/.gc-${crypto.randomUUID()}`;
      try {
        await Deno.rename(path, target);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return;
        throw toLodeError(e, "IO");
      }
    }
    await Deno.remove(target, { recursive: true }).catch(ignoreNotFound);
  }

  #collected(kind: GcKind, item: Pick<DiskItem, "path" | "bytes" | "lastWriteMs">): void {
    this.summary.removed++;
    this.summary.bytesFreed += item.bytes;
    this.#emit({
      event: "collected",
      kind,
      path: item.path,
      bytes: item.bytes,
      dry_run: this.summary.dryRun,
    });
  }

  async #skipLocked(kind: GcKind, path: string): Promise<void> {
    const item = await diskItem(path);
    if (item) this.#skipLockedItem(kind, item);
  }

  #skipLockedItem(kind: GcKind, item: DiskItem): void {
    this.summary.skippedLocked++;
    this.#skipped(kind, item, "locked");
  }

  #skipRecent(kind: GcKind, item: Pick<DiskItem, "path" | "bytes" | "lastWriteMs">): void {
    if (kind !== "quarantine") this.summary.keptRecent++;
    this.#skipped(kind, item, "recent");
  }

  #skipped(
    kind: GcKind,
    item: Pick<DiskItem, "path" | "bytes" | "lastWriteMs">,
    reason: "locked" | "recent",
  ) {
    this.#emit({
      event: "skipped",
      kind,
      path: item.path,
      bytes: item.bytes,
      reason,
      last_write: new Date(item.lastWriteMs).toISOString(),
    });
  }
}

function ignoreNotFound(e: unknown): void {
  if (!(e instanceof Deno.errors.NotFound)) throw e instanceof LodeError ? e : toLodeError(e, "IO");
}
