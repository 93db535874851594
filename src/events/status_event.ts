/**
 * Status events (`StatusEvent` / `LoadPhase`), tagged by `status`;
 * `loading_model` and `restarting` carry a `phase` whose fields are flattened
 * into the same object, as the daemon's admin frames read:
 * `{"status":"loading_model","phase":"download","downloaded_bytes":…}`.
 * The CLI prints them with `--json` as {@link StatusLine}s, tagged `event`.
 *
 * @example
 * ```ts
 * import { StatusEvent } from "./status_event.ts";
 * StatusEvent.parse({ status: "loading_model", phase: "kv_cache", n_ctx: 2048 });
 * ```
 * @module
 */
import { z } from "zod";

/** The sub-stages of a model load (seed `LoadPhase`), tagged by `phase`. */
export const LoadPhase = z.discriminatedUnion("phase", [
  z.object({ phase: z.literal("checking_local"), path: z.string() }),
  z.object({
    phase: z.literal("download"),
    downloaded_bytes: z.number().int().nonnegative(),
    total_bytes: z.number().int().nonnegative().nullable(),
    source_url: z.string(),
  }),
  z.object({ phase: z.literal("verify"), path: z.string() }),
  z.object({
    phase: z.literal("quarantine"),
    path: z.string(),
    expected_sha256: z.string(),
    actual_sha256: z.string(),
    quarantine_path: z.string(),
  }),
  z.object({ phase: z.literal("mmap"), path: z.string() }),
  z.object({ phase: z.literal("kv_cache"), n_ctx: z.number().int().nonnegative() }),
]);
export type LoadPhase = z.infer<typeof LoadPhase>;

/** Every load phase with a `status` field added: the phase's fields are flattened into the event. */
function phased<S extends "loading_model" | "restarting">(status: S) {
  const tag = { status: z.literal(status) };
  const [checking, download, verify, quarantine, mmap, kvCache] = LoadPhase.options;
  return [
    checking.extend(tag),
    download.extend(tag),
    verify.extend(tag),
    quarantine.extend(tag),
    mmap.extend(tag),
    kvCache.extend(tag),
  ] as const;
}

/** The backend capability snapshot, exactly the seed's fields. */
export const Capabilities = z.object({
  backend: z.string(),
  v2: z.boolean(),
  vision: z.boolean(),
  audio: z.boolean(),
  tools: z.boolean(),
  thinking: z.boolean(),
  embed: z.boolean(),
  accelerator: z.string(),
  gpu_layers: z.number().int().nonnegative(),
});
export type Capabilities = z.infer<typeof Capabilities>;

/** Any status event. */
export const StatusEvent = z.union([
  z.object({ status: z.literal("starting") }),
  ...phased("loading_model"),
  Capabilities.extend({ status: z.literal("capabilities") }),
  z.object({ status: z.literal("ready") }),
  ...phased("restarting"),
  z.object({ status: z.literal("draining") }),
]);
export type StatusEvent = z.infer<typeof StatusEvent>;

/**
 * A status event as the CLI prints it with `--json` (`lode run`, `chat`, `embed` and `status`): tagged
 * `event: "status"`, as every NDJSON line lode prints is tagged by `event`, with the status event's fields
 * beside the tag. A daemon's frames (`lode status`) also name the `model` and why it is loaded again
 * (`reason`).
 *
 * @example
 * ```ts
 * import { StatusLine } from "./status_event.ts";
 * StatusLine.parse({ event: "status", status: "loading_model", phase: "kv_cache", n_ctx: 2048 });
 * ```
 */
export const StatusLine = z.intersection(
  z.object({
    event: z.literal("status"),
    model: z.string().optional(),
    reason: z.enum(["crashed", "context_size", "reload_failed"]).optional(),
  }),
  StatusEvent,
);
export type StatusLine = z.infer<typeof StatusLine>;

/**
 * The `--json` line of a status event.
 *
 * @example
 * ```ts
 * import { statusLine } from "./status_event.ts";
 * statusLine({ status: "ready" }); // { event: "status", status: "ready" }
 * ```
 */
export function statusLine(event: StatusEvent): StatusLine {
  return { event: "status", ...event };
}

/** A `loading_model` event for one phase, typed by the phase's name. */
export type LoadingModelEvent = Extract<StatusEvent, { status: "loading_model" }>;
