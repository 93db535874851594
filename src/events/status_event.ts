/**
 * Status events of model loads and of the daemon (the admin stream's frames,
 * docs/protocol.md), tagged by `status`; `loading_model` and `restarting`
 * carry a `phase` whose fields are flattened into the same object, as admin
 * frames read:
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

/** The sub-stages of a model load, tagged by `phase`. */
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

/** The backend capability snapshot. */
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

/**
 * Why a model was unloaded: `idle` (its keep-alive ran out), `evicted` (room for another model),
 * `unload` (the `unload` op asked), `removed` (the store no longer holds it: `lode rm`), `changed` (the
 * store holds another file under its name: pulled or imported again).
 */
export const UnloadReason = z.enum(["idle", "evicted", "unload", "removed", "changed"]);
export type UnloadReason = z.infer<typeof UnloadReason>;

/** Any status event. */
export const StatusEvent = z.union([
  z.object({ status: z.literal("starting") }),
  ...phased("loading_model"),
  Capabilities.extend({ status: z.literal("capabilities") }),
  z.object({ status: z.literal("ready") }),
  ...phased("restarting"),
  // A load that ended without a model: the error's stable code (src/errors.ts) and message.
  z.object({ status: z.literal("load_failed"), code: z.string(), message: z.string() }),
  // A model's runner has stopped (not for a reload or a crash: those are `restarting`).
  z.object({ status: z.literal("unloaded"), reason: UnloadReason }),
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
    reason: z.string().optional(),
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
