/**
 * Events of the store commands (NDJSON with `--json`), tagged by `event`.
 * Every one of these commands ends with the CLI's `error` event when it fails.
 *
 * `lode gc` (the first three come from `src/store/gc.ts`, {@link GcEvent}):
 * - `collected`: one item removed — `kind` (`blob`, `partial`, `temp`,
 *   `quarantine`, `upload`; `batch` and `file` of the OpenAI Batch API; `job`, a job's directory), `path`,
 *   `bytes` on disk, `dry_run` (true: nothing was removed).
 * - `skipped`: one item left — `reason` `locked` (another process holds its
 *   lock, for a job its claim) or `recent` (written within `--older-than`), `last_write` (ISO time; a
 *   job's `finished_at`).
 * - `problem`: a manifest that does not parse (gc keeps every blob it names):
 *   the error's `code`, `message`, `hint`, `details`, as every error event has them.
 * - `gc_done`: the totals — `removed`, `bytes_freed` (disk blocks),
 *   `skipped_locked`, `kept_recent`, `quarantine_kept {items, bytes}`,
 *   `verified_records_pruned`, `older_than_ms`, `batches_older_than_ms`, `jobs_older_than_ms`,
 *   `jobs_removed`, `dry_run`.
 *
 * `lode export` / `lode import`:
 * - `bundle_blob`: one blob written to or read from a bundle — `sha256`,
 *   `size_bytes`; on export the model's `name`, on import `cached` (the store
 *   had it: hashed, not written).
 * - `exported`: `name`, `file` (`-` for stdout), `blob` (the manifest's),
 *   `blobs` (count), `bundle_bytes`, `ms`.
 * - `imported`: `name`, `blob`, `size_bytes`, `path` (the blob's); from a
 *   bundle also `bundle` (its path, `-` for stdin), `blobs`, `blobs_written`,
 *   `already_present`, `replaced` (the blob the name pointed at before, or null), `ms`.
 *
 * `lode verify`: `verified` per model — `name`, `ok`, `expected` / `actual`
 * hex digests of the first blob that failed (the primary one when all are
 * fine), `problem` (`BLOB_MISSING`, `DIGEST_MISMATCH`, `GGUF_INVALID` — the
 * bytes hash right but are not a GGUF model: `reason` says why), `quarantinePath`,
 * `sizeBytes` (bytes checked), `files` (each blob of a model of several files),
 * `ms`. These camelCase names are the API as first shipped. Then `verify_done`:
 * `models` checked (0 when the store has none), `ok`, `failed`, `ms`.
 *
 * `lode ls`: `model` per model (`name`, `size_bytes`, `digest`, `format`,
 * `source`, `pinned`), then `problem` per manifest that could not be read.
 * `lode rm`: `removed` per name (`blob_removed`: the primary blob went,
 * `blobs_removed`, `blobs_kept`: still used by another model).
 * `lode path`: `path` (`name`, `path`).
 * `lode push`: `push_started`, `push_blob`, `push_progress`, `pushed` (push_event.ts).
 *
 * @example
 * ```ts
 * import { StoreEvent } from "./store_event.ts";
 * StoreEvent.parse({ event: "path", name: "stories260K", path: "/…/blobs/sha256/27/…/data" });
 * ```
 * @module
 */
import { z } from "zod";
import { ErrorEvent, ErrorFields } from "./error_event.ts";
import { PushBlobEvent, PushedEvent, PushProgressEvent, PushStartedEvent } from "./push_event.ts";

const count = z.number().int().nonnegative();

/** What gc removes. */
export const GcKind = z.enum(["blob", "partial", "temp", "quarantine", "upload", "batch", "file", "job"]);
export type GcKind = z.infer<typeof GcKind>;

export const CollectedEvent = z.object({
  event: z.literal("collected"),
  kind: GcKind,
  path: z.string(),
  bytes: count,
  /** True when nothing was removed (`--dry-run`). */
  dry_run: z.boolean(),
});
export type CollectedEvent = z.infer<typeof CollectedEvent>;

export const SkippedEvent = z.object({
  event: z.literal("skipped"),
  kind: GcKind,
  path: z.string(),
  bytes: count,
  /** `locked`: another process holds its lock; `recent`: written within the threshold. */
  reason: z.enum(["locked", "recent"]),
  /** ISO 8601. */
  last_write: z.string(),
});
export type SkippedEvent = z.infer<typeof SkippedEvent>;

/** A manifest that could not be read or parsed (gc and ls report it and go on). */
export const ProblemEvent = ErrorFields.extend({ event: z.literal("problem") });
export type ProblemEvent = z.infer<typeof ProblemEvent>;

/** What `collectGarbage` reports, item by item. */
export const GcEvent = z.discriminatedUnion("event", [CollectedEvent, SkippedEvent, ProblemEvent]);
export type GcEvent = z.infer<typeof GcEvent>;

export const GcDoneEvent = z.object({
  event: z.literal("gc_done"),
  dry_run: z.boolean(),
  removed: count,
  /** Disk blocks freed (or that would be, with `dry_run`). */
  bytes_freed: count,
  skipped_locked: count,
  kept_recent: count,
  quarantine_kept: z.object({ items: count, bytes: count }),
  verified_records_pruned: count,
  older_than_ms: count,
  /** `--batches-older-than`; null when not given (only expired files of the Batch API went). */
  batches_older_than_ms: count.nullable().optional(),
  /** `--jobs-older-than`; null when not given (no job record went). */
  jobs_older_than_ms: count.nullable().optional(),
  /** Job directories removed (or that would be), counted in `removed` too. */
  jobs_removed: count.optional(),
});
export type GcDoneEvent = z.infer<typeof GcDoneEvent>;

export const BundleBlobEvent = z.object({
  event: z.literal("bundle_blob"),
  sha256: z.string(),
  size_bytes: count,
  /** Export: the model exported. */
  name: z.string().optional(),
  /** Import: the store already had the blob (hashed, not written). */
  cached: z.boolean().optional(),
});
export type BundleBlobEvent = z.infer<typeof BundleBlobEvent>;

export const ExportedEvent = z.object({
  event: z.literal("exported"),
  name: z.string(),
  file: z.string(),
  blob: z.string(),
  blobs: count,
  bundle_bytes: count,
  ms: count,
});
export type ExportedEvent = z.infer<typeof ExportedEvent>;

export const ImportedEvent = z.object({
  event: z.literal("imported"),
  name: z.string(),
  blob: z.string(),
  size_bytes: count,
  /** The primary blob's path in the store. */
  path: z.string(),
  /** The rest: a bundle import only. */
  bundle: z.string().optional(),
  blobs: count.optional(),
  blobs_written: count.optional(),
  already_present: z.boolean().optional(),
  replaced: z.string().nullable().optional(),
  ms: count.optional(),
});
export type ImportedEvent = z.infer<typeof ImportedEvent>;

const BlobVerify = z.object({
  ok: z.boolean(),
  expected: z.string(),
  actual: z.string().nullable(),
  quarantinePath: z.string().optional(),
  problem: z.enum(["BLOB_MISSING", "DIGEST_MISMATCH", "GGUF_INVALID"]).optional(),
  /** What is wrong with a `GGUF_INVALID` blob. */
  reason: z.string().optional(),
});

export const VerifiedEvent = BlobVerify.extend({
  event: z.literal("verified"),
  name: z.string(),
  sizeBytes: count,
  files: z.array(BlobVerify.extend({ filename: z.string(), role: z.string() })).optional(),
  ms: count,
});
export type VerifiedEvent = z.infer<typeof VerifiedEvent>;

/** The end of `lode verify`: how many models were checked (0: the store has none), how many were fine. */
export const VerifyDoneEvent = z.object({
  event: z.literal("verify_done"),
  models: count,
  ok: count,
  failed: count,
  ms: count,
});
export type VerifyDoneEvent = z.infer<typeof VerifyDoneEvent>;

export const ModelEvent = z.object({
  event: z.literal("model"),
  name: z.string(),
  size_bytes: count,
  /** `sha256:<hex>` of the primary blob. */
  digest: z.string(),
  format: z.string(),
  /** The URL, `registry:repo`, or the registry. */
  source: z.string(),
  /** False when the hash was computed at download, not checked against a pinned one. */
  pinned: z.boolean(),
  /** The name of the model's stored license file (a pulled OCI artifact's), when it has one. */
  license_file: z.string().optional(),
});
export type ModelEvent = z.infer<typeof ModelEvent>;

export const RemovedEvent = z.object({
  event: z.literal("removed"),
  name: z.string(),
  blob_removed: z.boolean(),
  blobs_removed: count,
  blobs_kept: count,
});
export type RemovedEvent = z.infer<typeof RemovedEvent>;

export const PathEvent = z.object({
  event: z.literal("path"),
  name: z.string(),
  path: z.string(),
});
export type PathEvent = z.infer<typeof PathEvent>;

/** Every event of `lode gc`, `export`, `import`, `verify`, `ls`, `rm` and `path`, and `error`. */
export const StoreEvent = z.discriminatedUnion("event", [
  CollectedEvent,
  SkippedEvent,
  ProblemEvent,
  GcDoneEvent,
  BundleBlobEvent,
  ExportedEvent,
  ImportedEvent,
  VerifiedEvent,
  VerifyDoneEvent,
  ModelEvent,
  RemovedEvent,
  PathEvent,
  PushStartedEvent,
  PushBlobEvent,
  PushProgressEvent,
  PushedEvent,
  ErrorEvent,
]);
export type StoreEvent = z.infer<typeof StoreEvent>;
