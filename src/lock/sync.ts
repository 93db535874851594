/**
 * `lode sync`: bring the store to what the lockfile pins. The lockfile is the
 * plan — no registry is asked again.
 *
 * 1. Select the entries (all, or the names asked; a name without an entry
 *    fails). With `frozen`, an unpinned file (no sha256 or size) fails
 *    before anything is touched: pinning it would change the lockfile.
 * 2. Check every locked blob once ({@link checkLockedBlob}): trusted when lode
 *    wrote it, else re-hashed; corrupt bytes go to quarantine.
 * 3. A model whose blobs are all good and whose manifest names exactly them
 *    is done. Any other is pulled (all at once, through the caller's pull
 *    function, i.e. one connection budget): the download core fetches only
 *    what is missing, and writes the manifest over blobs already present.
 *    Offline, models that need bytes are listed in one `OFFLINE` error;
 *    those that need only a manifest are still linked.
 * 4. Unpinned files get their computed sha256 and size: the returned
 *    lockfile is the one to write (`changed`).
 *
 * @example
 * ```ts
 * import { readLockfile, writeLockfile } from "./lockfile.ts";
 * import { pullPlan } from "../registry/pull_plan.ts";
 * import type { PullContext } from "../download/pull_context.ts";
 * declare const pullContext: PullContext; // the command's: host policy, HTTP clients, progress
 * const lock = await readLockfile("lode.lock");
 * const outcome = await syncLockfile(lock, { store: pullContext.store, pull: (plan) => pullPlan(plan, pullContext) });
 * if (outcome.changed) await writeLockfile("lode.lock", outcome.lock);
 * ```
 * @module
 */
import { LodeError, toLodeError } from "../errors.ts";
import type { SyncCheckEvent, SyncModelEvent } from "../events/lock_event.ts";
import type { ModelPlan } from "../registry/registry.ts";
import type { LockWaitOptions, ModelStore } from "../store/model_store.ts";
import { type BlobState, checkLockedBlob, manifestMatches } from "./check_store.ts";
import { type LockEntry, type Lockfile, unpinnedFiles, withEntry } from "./lockfile.ts";
import { pinFromManifest, planFromEntry } from "./plan_entry.ts";

/** Effects and switches of {@link syncLockfile}. */
export interface SyncOptions {
  store: ModelStore;
  /** Pulls one plan into the store (the command's pull context); `cached` when nothing was downloaded. */
  pull(plan: ModelPlan): Promise<{ cached: boolean }>;
  /** Only these models (default: every entry). */
  names?: string[];
  frozen?: boolean;
  /** Never download: models that need bytes are reported missing. */
  offline?: boolean;
  lock?: LockWaitOptions;
  emit?(event: SyncCheckEvent | SyncModelEvent): void;
  /** Blobs re-hashed at once (default 2). */
  hashConcurrency?: number;
  now?: () => number;
}

/** One model's outcome. */
export interface ModelOutcome {
  name: string;
  status: SyncModelEvent["status"];
  error?: LodeError;
}

/** What {@link syncLockfile} did. */
export interface SyncOutcome {
  /** The lockfile after sync (with new pins when `changed`). */
  lock: Lockfile;
  changed: boolean;
  models: ModelOutcome[];
  blobs: BlobState[];
  hashedBytes: number;
  checkMs: number;
  /** The first failure (an `OFFLINE` listing what is missing, or a pull's error); null on success. */
  error: LodeError | null;
}

/** The entries `names` selects (every entry when empty); a name without an entry fails. */
function selectEntries(lock: Lockfile, names: string[] = []): LockEntry[] {
  if (names.length === 0) return lock.models;
  return names.map((name) => {
    const entry = lock.models.find((m) => m.name === name);
    if (!entry) {
      throw new LodeError("MODEL_NOT_FOUND", `the lockfile has no entry named "${name}"`, {
        details: { name, locked: lock.models.map((m) => m.name) },
        hint: `Add it with \`lode lock add REF --name ${name}\`, then sync.`,
      });
    }
    return entry;
  });
}

/** Fails with `LOCKFILE_FROZEN` when any of `entries` has an unpinned file. */
function assertFrozen(entries: LockEntry[]): void {
  const unpinned = entries.flatMap((e) => unpinnedFiles(e).map((f) => `${e.name}: ${f.filename}`));
  if (unpinned.length === 0) return;
  throw new LodeError(
    "LOCKFILE_FROZEN",
    `--frozen: the lockfile would change: ${unpinned.length} file(s) have no sha256 or size yet (${
      unpinned.join(", ")
    })`,
    { details: { unpinned } },
  );
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function describeMissing(entry: LockEntry, states: Map<string, BlobState>): string[] {
  return entry.files.flatMap((f) => {
    if (f.sha256 === undefined) return [`${entry.name}: ${f.filename} (not pinned yet)`];
    const state = states.get(f.sha256);
    if (!state || state.status === "missing") {
      return [`${entry.name}: ${f.filename} sha256:${f.sha256.slice(0, 12)} (missing)`];
    }
    if (state.status === "corrupt") {
      return [`${entry.name}: ${f.filename} sha256:${f.sha256.slice(0, 12)} (corrupt; quarantined)`];
    }
    return [];
  });
}

/** Syncs the store to `lock`. Throws only for a bad request (unknown name, frozen violation). */
export async function syncLockfile(lock: Lockfile, options: SyncOptions): Promise<SyncOutcome> {
  const { store } = options;
  const now = options.now ?? (() => performance.now());
  const entries = selectEntries(lock, options.names);
  if (options.frozen) assertFrozen(entries);

  // 2. Check each distinct blob once.
  const checkStarted = now();
  const owner = new Map<string, { entry: LockEntry; filename: string }>();
  for (const entry of entries) {
    for (const f of entry.files) {
      if (f.sha256 && !owner.has(f.sha256)) owner.set(f.sha256, { entry, filename: f.filename });
    }
  }
  const hexes = [...owner.keys()];
  const checked = await mapLimit(hexes, options.hashConcurrency ?? 2, async (hex) => {
    const { entry, filename } = owner.get(hex)!;
    const state = await checkLockedBlob(store, hex, { name: entry.name, lock: options.lock, now });
    options.emit?.({
      event: "sync_check",
      model: entry.name,
      filename,
      sha256: hex,
      size_bytes: state.sizeBytes,
      status: state.status,
      ms: state.ms,
      ...(state.quarantinePath ? { quarantine_path: state.quarantinePath } : {}),
    });
    return state;
  });
  for (const entry of entries) {
    for (const f of entry.files.filter((f) => f.sha256 === undefined)) {
      options.emit?.({
        event: "sync_check",
        model: entry.name,
        filename: f.filename,
        sha256: null,
        size_bytes: null,
        status: "unpinned",
        ms: 0,
      });
    }
  }
  const states = new Map(checked.map((s) => [s.sha256, s]));
  const checkMs = Math.round(now() - checkStarted);

  // 3. Decide per model, then pull what needs it, all at once.
  const models: ModelOutcome[] = [];
  const missing: string[] = [];
  let next = lock;
  let changed = false;
  const finish = (outcome: ModelOutcome) => {
    models.push(outcome);
    options.emit?.({
      event: "sync_model",
      model: outcome.name,
      status: outcome.status,
      ...(outcome.error ? { code: outcome.error.code } : {}),
    });
  };
  await Promise.all(entries.map(async (entry) => {
    const wrongSize = entry.files.find((f) => {
      const state = f.sha256 ? states.get(f.sha256) : undefined;
      return f.size !== undefined && state?.sizeBytes != null && state.sizeBytes !== f.size;
    });
    if (wrongSize) {
      const error = new LodeError(
        "LOCKFILE_INVALID",
        `${entry.name}: ${wrongSize.filename} is locked with size ${wrongSize.size}, but its sha256 has ${
          states.get(wrongSize.sha256!)?.sizeBytes
        } bytes`,
        { details: { name: entry.name, filename: wrongSize.filename } },
      );
      return finish({ name: entry.name, status: "failed", error });
    }
    const needsBytes = describeMissing(entry, states);
    const unpinned = unpinnedFiles(entry).length > 0;
    if (needsBytes.length === 0 && !unpinned && (await manifestMatches(store, entry))) {
      return finish({ name: entry.name, status: "ok" });
    }
    if (options.offline && (needsBytes.length > 0 || unpinned)) {
      missing.push(...needsBytes);
      return finish({ name: entry.name, status: "missing" });
    }
    try {
      const result = await options.pull(planFromEntry(entry));
      if (unpinned) {
        const pinned = pinFromManifest(entry, await store.getManifest(entry.name));
        next = withEntry(next, pinned);
        changed = true;
      }
      finish({ name: entry.name, status: result.cached ? "linked" : "pulled" });
    } catch (e) {
      finish({ name: entry.name, status: "failed", error: toLodeError(e) });
    }
  }));
  models.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const error = missing.length > 0
    ? new LodeError(
      "OFFLINE",
      `offline: ${missing.length} file(s) are not in the store and cannot be downloaded:\n  ${
        missing.sort().join("\n  ")
      }`,
      {
        details: { missing },
        hint: "Run `lode sync` with network access (without --offline) to download them.",
      },
    )
    : models.find((m) => m.error)?.error ?? null;
  return {
    lock: next,
    changed,
    models,
    blobs: checked,
    hashedBytes: checked.reduce((n, s) => n + s.hashedBytes, 0),
    checkMs,
    error,
  };
}
