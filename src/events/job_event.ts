/**
 * Job events, tagged by `event`: what a job's `events.ndjson` holds, one a line, and what `lode job run
 * --json` prints. `job_state` when the state changes, `job_progress` in the plan's unit, `job_artifact`
 * for each artifact left, `job_log` for a diagnostic line.
 *
 * @example
 * ```ts
 * import { JobEvent } from "./job_event.ts";
 * JobEvent.parse({ event: "job_state", id: "m1x2-ab12cd", kind: "sync", state: "running", at: "2026-01-01T00:00:00Z" });
 * ```
 * @module
 */
import { z } from "zod";

/** A job's states: `queued → running → succeeded | failed | cancelled`; `interrupted` when its process died. */
export const JobState = z.enum(["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]);
export type JobState = z.infer<typeof JobState>;

/** True for a state no runner leaves. */
export function isFinished(state: JobState): boolean {
  return state === "succeeded" || state === "failed" || state === "cancelled";
}

/** An artifact a job left: a file (with its size and SHA-256) or a directory. */
export const JobArtifact = z.object({
  id: z.string(),
  kind: z.enum(["file", "directory", "json"]),
  /** Absolute path. */
  path: z.string(),
  media_type: z.string(),
  size: z.number().int().nonnegative().nullable(),
  sha256: z.string().nullable(),
});
export type JobArtifact = z.infer<typeof JobArtifact>;

/** Progress in the plan's unit; `total` null when unknown. */
/** Tokens used by a job's answered requests (a batch: OpenAI's batch `usage`). */
export const JobUsage = z.object({
  input_tokens: z.number().int().nonnegative(),
  input_tokens_details: z.object({ cached_tokens: z.number().int().nonnegative() }),
  output_tokens: z.number().int().nonnegative(),
  output_tokens_details: z.object({ reasoning_tokens: z.number().int().nonnegative() }),
  total_tokens: z.number().int().nonnegative(),
});
export type JobUsage = z.infer<typeof JobUsage>;

export const JobProgress = z.object({
  unit: z.enum(["bytes", "files", "inputs", "steps"]),
  done: z.number().nonnegative(),
  total: z.number().nonnegative().nullable(),
  message: z.string().optional(),
  /** Inputs that failed (a batch: requests answered with an error). */
  failed: z.number().int().nonnegative().optional(),
  /** Tokens generated per second (a batch). */
  tokens_per_second: z.number().nonnegative().optional(),
  /** Milliseconds left at the current rate; null while unknown. */
  eta_ms: z.number().nonnegative().nullable().optional(),
  /** Tokens of the requests answered so far (a batch). */
  usage: JobUsage.optional(),
});
export type JobProgress = z.infer<typeof JobProgress>;

const base = { id: z.string(), kind: z.string(), at: z.string() };

export const JobStateEvent = z.object({
  event: z.literal("job_state"),
  ...base,
  state: JobState,
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export const JobProgressEvent = z.object({
  event: z.literal("job_progress"),
  ...base,
  progress: JobProgress,
});
export const JobArtifactEvent = z.object({
  event: z.literal("job_artifact"),
  ...base,
  artifact: JobArtifact,
});
export const JobLogEvent = z.object({
  event: z.literal("job_log"),
  ...base,
  level: z.enum(["info", "warn"]),
  message: z.string(),
});

/** Every job event. */
export const JobEvent = z.discriminatedUnion("event", [
  JobStateEvent,
  JobProgressEvent,
  JobArtifactEvent,
  JobLogEvent,
]);
export type JobEvent = z.infer<typeof JobEvent>;
