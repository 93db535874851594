/**
 * Events of `lode lock` and `lode sync` (NDJSON with `--json`), tagged by
 * `event`. A sync also prints the download events of the models it pulls.
 *
 * - `sync_check`: one blob checked — `trusted` (lode wrote or last verified
 *   this very file: no re-hash), `verified` (re-hashed, good), `corrupt`
 *   (re-hashed, wrong: quarantined), `missing`, or `unpinned` (no hash locked yet).
 * - `sync_model`: what happened to one model — `ok` (nothing to do), `pulled`
 *   (bytes downloaded), `linked` (manifest written over blobs already present),
 *   `missing` (offline: not available), `failed`.
 * - `sync_completed`: the totals, with the time the checks and the whole sync took.
 * - `lock_added`, `lock_removed`, `lock_key`.
 *
 * @example
 * ```ts
 * import { SyncEvent } from "./lock_event.ts";
 * const line = '{"event":"lock_removed","lockfile":"lode.lock","model":"stories"}';
 * SyncEvent.parse(JSON.parse(line)); // throws when the line is not one of these events
 * ```
 * @module
 */
import { z } from "zod";

export const SyncCheckEvent = z.object({
  event: z.literal("sync_check"),
  model: z.string(),
  filename: z.string(),
  sha256: z.string().nullable(),
  size_bytes: z.number().int().nonnegative().nullable(),
  status: z.enum(["trusted", "verified", "corrupt", "missing", "unpinned"]),
  /** Time spent on this blob (the re-hash, when there was one). */
  ms: z.number().nonnegative(),
  quarantine_path: z.string().optional(),
});
export type SyncCheckEvent = z.infer<typeof SyncCheckEvent>;

export const SyncModelEvent = z.object({
  event: z.literal("sync_model"),
  model: z.string(),
  status: z.enum(["ok", "pulled", "linked", "missing", "failed"]),
  code: z.string().optional(),
});
export type SyncModelEvent = z.infer<typeof SyncModelEvent>;

export const SyncCompletedEvent = z.object({
  event: z.literal("sync_completed"),
  lockfile: z.string(),
  models: z.number().int().nonnegative(),
  blobs: z.number().int().nonnegative(),
  trusted: z.number().int().nonnegative(),
  verified: z.number().int().nonnegative(),
  /** Blobs missing or corrupt when checked (downloaded again unless offline). */
  repaired: z.number().int().nonnegative(),
  /** Bytes re-hashed by the checks. */
  hashed_bytes: z.number().int().nonnegative(),
  check_ms: z.number().nonnegative(),
  ms: z.number().nonnegative(),
  /** True when unpinned files were pinned and the lockfile rewritten. */
  lockfile_changed: z.boolean(),
  ok: z.boolean(),
});
export type SyncCompletedEvent = z.infer<typeof SyncCompletedEvent>;

export const LockAddedEvent = z.object({
  event: z.literal("lock_added"),
  lockfile: z.string(),
  model: z.string(),
  replaced: z.boolean(),
  /** True when the files were downloaded to learn their hash or size. */
  downloaded: z.boolean(),
  files: z.array(z.object({ filename: z.string(), sha256: z.string(), size_bytes: z.number().int() })),
});

export const LockRemovedEvent = z.object({
  event: z.literal("lock_removed"),
  lockfile: z.string(),
  model: z.string(),
});

export const LockKeyEvent = z.object({
  event: z.literal("lock_key"),
  lockfile: z.string(),
  key: z.string(),
});

/** Every event of `lode lock` and `lode sync`. */
export const SyncEvent = z.discriminatedUnion("event", [
  SyncCheckEvent,
  SyncModelEvent,
  SyncCompletedEvent,
  LockAddedEvent,
  LockRemovedEvent,
  LockKeyEvent,
]);
export type SyncEvent = z.infer<typeof SyncEvent>;
