/**
 * Events of `lode push NAME oci://…` (source `store`, NDJSON with `--json`), tagged by `event`:
 *
 * - `push_started`: what will be sent — `name`, `reference`, `format` (`modelpack`, `docker`), `blobs`,
 *   `total_bytes` (every blob's size, the config's too).
 * - `push_blob`: one blob's outcome — `digest` (`sha256:…`), `size_bytes`, `role` (`model`, `shard`,
 *   `mmproj`, `config`), `filename` (the layer's file; absent for the config), `skipped` (true: the
 *   registry had it, nothing was sent), `mounted_from` (the repository of the same registry it was
 *   mounted from, nothing sent).
 * - `push_progress`: bytes of one blob sent so far — `digest`, `done_bytes`, `total_bytes`.
 * - `pushed`: the manifest was stored — `name`, `reference` (`oci://HOST/REPO:TAG`), `digest` (the
 *   manifest's), `blobs`, `blobs_uploaded`, `blobs_skipped`, `blobs_mounted`, `bytes_uploaded`, `ms`.
 *
 * No credentials appear in any of them.
 *
 * @example
 * ```ts
 * import { PushEvent } from "./push_event.ts";
 * PushEvent.parse({ event: "push_progress", digest: "sha256:ab", done_bytes: 10, total_bytes: 20 });
 * ```
 * @module
 */
import { z } from "zod";

const count = z.number().int().nonnegative();

export const PushStartedEvent = z.object({
  event: z.literal("push_started"),
  name: z.string(),
  reference: z.string(),
  format: z.enum(["modelpack", "docker"]),
  blobs: count,
  total_bytes: count,
});
export type PushStartedEvent = z.infer<typeof PushStartedEvent>;

export const PushBlobEvent = z.object({
  event: z.literal("push_blob"),
  digest: z.string(),
  size_bytes: count,
  role: z.string(),
  filename: z.string().optional(),
  skipped: z.boolean(),
  mounted_from: z.string().optional(),
});
export type PushBlobEvent = z.infer<typeof PushBlobEvent>;

export const PushProgressEvent = z.object({
  event: z.literal("push_progress"),
  digest: z.string(),
  done_bytes: count,
  total_bytes: count,
});
export type PushProgressEvent = z.infer<typeof PushProgressEvent>;

export const PushedEvent = z.object({
  event: z.literal("pushed"),
  name: z.string(),
  reference: z.string(),
  digest: z.string(),
  blobs: count,
  blobs_uploaded: count,
  blobs_skipped: count,
  blobs_mounted: count,
  bytes_uploaded: count,
  ms: count,
});
export type PushedEvent = z.infer<typeof PushedEvent>;

/** Every event of a push. */
export const PushEvent = z.discriminatedUnion("event", [
  PushStartedEvent,
  PushBlobEvent,
  PushProgressEvent,
  PushedEvent,
]);
export type PushEvent = z.infer<typeof PushEvent>;
