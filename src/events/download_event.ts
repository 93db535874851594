/**
 * Download events: the wire format of a pull (`DownloadEvent`), serialised
 * with an `event` tag: whole-MiB counts (`*_mb`) and exact byte counts. A
 * `failed` event carries the error's `code`, `message`, `hint` and `details`,
 * as every error lode prints does (`error_event.ts`).
 *
 * @example
 * ```ts
 * import { DownloadEvent } from "./download_event.ts";
 * DownloadEvent.parse({ event: "completed", model: "stories", blob: "sha256:…", path: "/…/data" });
 * ```
 * @module
 */
import { z } from "zod";
import { ErrorFields } from "./error_event.ts";

const MB = 1024 * 1024;

/** Whole mebibytes (rounded down), as the `*_mb` fields count them. */
export function toMb(bytes: number): number {
  return Math.floor(bytes / MB);
}

export const StartedEvent = z.object({
  event: z.literal("started"),
  model: z.string(),
  total_files: z.number().int().nonnegative(),
  total_mb: z.number().int().nonnegative(),
  total_bytes: z.number().int().nonnegative().nullable(),
});

export const FileStartedEvent = z.object({
  event: z.literal("file_started"),
  /** lode: the model the file belongs to (pulls of several models interleave their events). */
  model: z.string().optional(),
  filename: z.string(),
  index: z.number().int().positive(),
  total_files: z.number().int().positive(),
  size_mb: z.number().int().nonnegative(),
  size_bytes: z.number().int().nonnegative().nullable(),
  url: z.string(),
});

export const FileProgressEvent = z.object({
  event: z.literal("file_progress"),
  filename: z.string(),
  downloaded_mb: z.number().int().nonnegative(),
  total_mb: z.number().int().nonnegative(),
  downloaded_bytes: z.number().int().nonnegative(),
  total_bytes: z.number().int().nonnegative().nullable(),
  /** Smoothed transfer rate, bytes per second. */
  bytes_per_second: z.number().nonnegative(),
});

export const FileCompletedEvent = z.object({
  event: z.literal("file_completed"),
  filename: z.string(),
  sha256: z.string(),
  size_bytes: z.number().int().nonnegative(),
  /** True when the blob was already in the store and nothing was downloaded. */
  cached: z.boolean(),
});

export const CompletedEvent = z.object({
  event: z.literal("completed"),
  model: z.string(),
  blob: z.string(),
  path: z.string(),
  size_bytes: z.number().int().nonnegative(),
  /** False when no sha256 was given and the hash was only computed, not checked. */
  pinned: z.boolean(),
});

/** A model's pull failed: the error's fields as every error event has them (`error_event.ts`). */
export const FailedEvent = ErrorFields.extend({
  event: z.literal("failed"),
  /** lode: the model whose pull failed. */
  model: z.string().optional(),
});

/** lode: the pull is waiting for another process that holds a lock (per-name or per-blob). */
export const WaitingEvent = z.object({
  event: z.literal("waiting"),
  reason: z.literal("lock"),
  what: z.string(),
});

/**
 * lode: one URL of a file failed in a way another origin may not (mirrors.ts in src/download says
 * which), and the file's next URL is tried; a partial download carries over, the SHA-256 pins the bytes.
 * URLs are shown without credentials, query or fragment.
 */
export const MirrorFailedEvent = z.object({
  event: z.literal("mirror_failed"),
  model: z.string().optional(),
  filename: z.string(),
  url: z.string(),
  /** The error code of the failure (`NETWORK`, `HTTP_NOT_FOUND`, `DIGEST_MISMATCH`, …). */
  code: z.string(),
  /** The HTTP status, when the origin answered with one. */
  status: z.number().int().optional(),
  next_url: z.string(),
});

/** Why a download threw away the bytes it had and started the file again. */
export const RestartReason = z.enum([
  /** The origin's ETag or Last-Modified is not the one the kept bytes were fetched with. */
  "validator_changed",
  /** The origin serves another size than the kept bytes were part of. */
  "size_changed",
  /** A range request during the download was answered with the whole (changed) file. */
  "changed_during_download",
]);
export type RestartReason = z.infer<typeof RestartReason>;

/**
 * lode: the origin's file is not the one the bytes on disk came from, so they are discarded and the file is
 * fetched from its start (with every connection, as a fresh download). Bytes of two versions are never mixed.
 */
export const FileRestartedEvent = z.object({
  event: z.literal("file_restarted"),
  model: z.string().optional(),
  filename: z.string(),
  url: z.string(),
  reason: RestartReason,
  /** Bytes that were on disk and are fetched again. */
  discarded_bytes: z.number().int().nonnegative(),
  /** The validator (ETag, else Last-Modified) and size the kept bytes were fetched with, when known. */
  previous: z.object({ validator: z.string().nullable(), size_bytes: z.number().int().nonnegative() })
    .optional(),
  /** What the origin serves now, when known. */
  current: z.object({
    validator: z.string().nullable(),
    size_bytes: z.number().int().nonnegative().nullable(),
  })
    .optional(),
});

/**
 * lode: a file of the model's source that the pull leaves out — a text layer of an OCI artifact (its
 * license, its chat template) larger than lode keeps (`limit_bytes`, 1 MiB). The model is pulled without it.
 */
export const FileSkippedEvent = z.object({
  event: z.literal("file_skipped"),
  model: z.string().optional(),
  filename: z.string(),
  role: z.string(),
  size_bytes: z.number().int().nonnegative().optional(),
  reason: z.enum(["too_large"]),
  limit_bytes: z.number().int().nonnegative(),
});

/** Any download event. */
export const DownloadEvent = z.discriminatedUnion("event", [
  StartedEvent,
  FileStartedEvent,
  FileProgressEvent,
  FileCompletedEvent,
  CompletedEvent,
  FailedEvent,
  WaitingEvent,
  MirrorFailedEvent,
  FileRestartedEvent,
  FileSkippedEvent,
]);
export type DownloadEvent = z.infer<typeof DownloadEvent>;
