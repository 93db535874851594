/**
 * The whole of `lode sync` (and of a sync job) on a lockfile file: read it, sync the store to it
 * ({@link syncLockfile}), write it back when files were pinned, and total what was done (the fields of
 * the `sync_completed` event).
 *
 * @example
 * ```ts
 * import { syncLockfileAt } from "./sync_file.ts";
 * import { pullPlan } from "../registry/pull_plan.ts";
 * import type { PullContext } from "../download/pull_context.ts";
 * declare const pullContext: PullContext; // the command's: host policy, HTTP clients, progress
 * const { summary } = await syncLockfileAt("lode.lock", {
 *   store: () => Promise.resolve(pullContext.store),
 *   pull: (plan) => pullPlan(plan, pullContext),
 * });
 * console.log(summary.repaired, summary.lockfile_changed);
 * ```
 * @module
 */
import type { SyncCompletedEvent } from "../events/lock_event.ts";
import type { ModelStore } from "../store/model_store.ts";
import { readLockfile, writeLockfile } from "./lockfile.ts";
import { syncLockfile, type SyncOptions, type SyncOutcome } from "./sync.ts";

/** The totals of a sync: a `sync_completed` event's fields but its tag and time. */
export type SyncSummary = Omit<SyncCompletedEvent, "event" | "ms">;

/**
 * Syncs the store to the lockfile at `path`; the file is rewritten when unpinned files were pinned. The
 * store is opened once the lockfile was read: a missing or malformed lockfile leaves no store behind.
 */
export async function syncLockfileAt(
  path: string,
  options: Omit<SyncOptions, "store"> & { store: () => Promise<ModelStore> },
): Promise<{ outcome: SyncOutcome; summary: SyncSummary }> {
  const lock = await readLockfile(path);
  const outcome = await syncLockfile(lock, { ...options, store: await options.store() });
  if (outcome.changed) await writeLockfile(path, outcome.lock);
  const count = (status: string) => outcome.blobs.filter((b) => b.status === status).length;
  return {
    outcome,
    summary: {
      lockfile: path,
      models: outcome.models.length,
      blobs: outcome.blobs.length,
      trusted: count("trusted"),
      verified: count("verified"),
      repaired: count("corrupt") + count("missing"),
      hashed_bytes: outcome.hashedBytes,
      check_ms: outcome.checkMs,
      lockfile_changed: outcome.changed,
      ok: outcome.error === null,
    },
  };
}
