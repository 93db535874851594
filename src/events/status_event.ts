/**
 * Status events (seed `003`, `StatusEvent` / `LoadPhase`), tagged by `status`;
 * `loading_model` and `restarting` carry a `phase` whose fields are flattened
 * into the same object, exactly as the seed's admin frames read:
 * `{"status":"loading_model","phase":"download","downloaded_bytes":…}`.
 *
 * @example
 * ```ts
 * import { StatusEvent } from "./status_event.ts";
 * StatusEvent.parse({ status: "loading_model", phase: "kv_cache", n_ctx: 2048 });
 * ```
 * @module
 */
import { z } from "zod";

const phaseShapes = {
  checking_local: { path: z.string() },
  download: {
    downloaded_bytes: z.number().int().nonnegative(),
    total_bytes: z.number().int().nonnegative().nullable(),
    source_url: z.string(),
  },
  verify: { path: z.string() },
  quarantine: {
    path: z.string(),
    expected_sha256: z.string(),
    actual_sha256: z.string(),
    quarantine_path: z.string(),
  },
  mmap: { path: z.string() },
  kv_cache: { n_ctx: z.number().int().nonnegative() },
} as const;

type PhaseName = keyof typeof phaseShapes;
const PHASES = Object.keys(phaseShapes) as PhaseName[];

function phased<S extends "loading_model" | "restarting">(status: S) {
  return PHASES.map((phase) =>
    z.object({ status: z.literal(status), phase: z.literal(phase), ...phaseShapes[phase] })
  );
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

/** A `loading_model` event for one phase, typed by the phase's name. */
export type LoadingModelEvent = Extract<StatusEvent, { status: "loading_model" }>;
