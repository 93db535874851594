/**
 * What a kind's runner gets: its spec, the job's directory and working directory, the store, one
 * cancellation signal, and the calls that report progress, artifacts and diagnostics; and what the
 * runner is given from outside (effects injected: the pull, the lockfile and model operations).
 * @module
 */
import { joinPath } from "../path.ts";
import { sha256File } from "../store/hash.ts";
import type { ModelStore } from "../store/model_store.ts";
import type { JobArtifact, JobProgress } from "../events/job_event.ts";
import type { JobPlan } from "./job_plan.ts";
import type { SpecOf } from "./job_spec.ts";

/** What a model-download job is given: the pull of `ref` into the store (resolve, then download). */
export type PullEffect = (
  ref: string,
  options: {
    name?: string;
    sha256?: string;
    signal: AbortSignal;
    onEvent: (event: { event: string }) => void;
  },
) => Promise<{ name: string; result: unknown }>;

/** A job operation done by a layer above jobs (the CLI, the daemon): it returns the job's result. */
export type JobEffect = (
  spec: Record<string, unknown>,
  options: { cwd: string; signal: AbortSignal; onEvent: (event: { event: string }) => void },
) => Promise<unknown>;

/** What a model-batch-inference job is given: its spec run from the job's directory, progress in requests. */
export type BatchEffect = (
  spec: SpecOf<"model-batch-inference">,
  options: {
    cwd: string;
    signal: AbortSignal;
    onEvent: (event: { event: string }) => void;
    /** Requests answered of `total`, how many failed, the rate and the time left. */
    progress: (done: number, total: number, rate: ProgressRate) => void;
    /** True when the job runs again (`lode job resume`): its spec's `restart` and `retry_errors` were done. */
    resumed: boolean;
  },
) => Promise<BatchEffectResult>;

/** The rate fields of a job's progress (job_event.ts `JobProgress`). */
export type ProgressRate = Pick<JobProgress, "failed" | "tokens_per_second" | "eta_ms" | "usage">;

/** What a batch job returns: the summary, and the files it wrote (absolute paths). */
export interface BatchEffectResult {
  output: string;
  errors: string;
  [field: string]: unknown;
}

/** The effects the runners are given; a kind whose effect is absent fails with `JOB_NOT_IMPLEMENTED`. */
export interface JobEffects {
  pull?: PullEffect;
  lockAdd?: JobEffect;
  sync?: JobEffect;
  warmup?: JobEffect;
  inference?: JobEffect;
  batch?: BatchEffect;
  /** The upload of a stored model to a registry (`lode push`); its events include `push_started` and `push_progress`. */
  push?: JobEffect;
}

/** A kind runner's world. */
export interface JobContext {
  id: string;
  /** How many times the job was started, this time included. */
  attempts: number;
  plan: JobPlan;
  /** The job's own directory (`<store>/jobs/<id>`). */
  dir: string;
  /** The directory the spec's relative paths start from. */
  cwd: string;
  store: ModelStore;
  signal: AbortSignal;
  effects: JobEffects;
  /** Progress in the plan's unit. */
  progress(done: number, total: number | null, message?: string, rate?: ProgressRate): void;
  /** Records an artifact. */
  artifact(artifact: JobArtifact): void;
  /** A diagnostic line (kept in the record, and an event). */
  log(message: string, level?: "info" | "warn"): void;
  /** Any event of the layer below (a download event), passed on as it is. */
  forward(event: { event: string }): void;
}

/** A spec path resolved against the job's working directory. */
export function resolveSpecPath(ctx: JobContext, path: string): string {
  return joinPath(ctx.cwd, path);
}

/** A file artifact: its size and SHA-256 read from disk. */
export async function fileArtifact(id: string, path: string, mediaType: string): Promise<JobArtifact> {
  const { size } = await Deno.stat(path);
  return { id, kind: "file", path, media_type: mediaType, size, sha256: await sha256File(path) };
}

/** The `manifest` artifact: the store's manifest of model `name` (a job that installed or checked it). */
export async function manifestArtifact(ctx: JobContext, name: string): Promise<JobArtifact> {
  const path = ctx.store.layout.manifestPath(name);
  const { size } = await Deno.stat(path);
  return { id: "manifest", kind: "json", path, media_type: "application/json", size, sha256: null };
}

/** Throws the signal's reason when it is aborted. */
export function checkCancelled(signal: AbortSignal): void {
  signal.throwIfAborted();
}
