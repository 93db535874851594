/**
 * Runs a recorded job: `queued → running → succeeded | failed | cancelled`, progress in the plan's unit,
 * cancellation through one signal, artifacts, a result and diagnostics. A signal aborted with an
 * `INTERRUPTED` error (its runner is stopping, not the user cancelling) leaves it `interrupted`. The record is rewritten (whole,
 * atomically) at each change of state; every event is appended to the job's `events.ndjson` and given
 * to `onEvent`. A job whose process dies mid-run is left `running` on disk and reads as `interrupted`.
 *
 * @example
 * ```ts
 * import { ModelStore } from "../store/model_store.ts";
 * import { JobRecords } from "./job_record.ts";
 * import { parseJobSpec } from "./job_spec.ts";
 * import { planJob } from "./job_plan.ts";
 * import { runJob } from "./job_runner.ts";
 * const store = await ModelStore.open("/srv/models");
 * const records = new JobRecords(store.layout.root);
 * const record = await records.create(planJob(parseJobSpec("model-validate-bundle", { model: "m" })), Deno.cwd());
 * const { record: done, error } = await runJob(record, { records, store });
 * console.log(done.state, error?.code);
 * ```
 * @module
 */
import { isLodeError, LodeError, toLodeError } from "../errors.ts";
import type { ModelStore } from "../store/model_store.ts";
import { fileArtifact, type JobContext, type JobEffects, manifestArtifact } from "./job_context.ts";
import type { JobEvent, JobState } from "../events/job_event.ts";
import type { JobRecord, JobRecords } from "./job_record.ts";
import { processStart } from "./process_alive.ts";
import { runExternalCommand } from "./run_external.ts";
import { runPush } from "./run_push.ts";
import { runMaterialize, runValidate } from "./run_store_jobs.ts";

/** Options of {@link runJob}. */
export interface RunJobOptions {
  records: JobRecords;
  store: ModelStore;
  /** Cancels the job. */
  signal?: AbortSignal;
  /** Every job event, as it is appended. */
  onEvent?: (event: JobEvent) => void;
  /** Events of the layers below (download events), as they come. */
  onForward?: (event: { event: string }) => void;
  effects?: JobEffects;
  /** Milliseconds between progress events in bytes (default 250); the last progress is always recorded. */
  progressEveryMs?: number;
}

/** A finished run: the final record, and the typed error when it did not succeed. */
export interface JobOutcome {
  record: JobRecord;
  error: LodeError | null;
}

/** Runs `record`'s plan in this process, recording it as it goes. */
export async function runJob(record: JobRecord, options: RunJobOptions): Promise<JobOutcome> {
  const { records, store } = options;
  const signal = options.signal ?? new AbortController().signal;
  const every = options.progressEveryMs ?? 250;
  let current: JobRecord = record;
  let appending = Promise.resolve();
  const emit = (event: JobEvent) => {
    options.onEvent?.(event);
    appending = appending.then(() => records.append(event));
  };
  const at = () => new Date().toISOString();
  const base = () => ({ id: current.id, kind: current.kind, at: at() });
  const setState = async (state: JobState, patch: Partial<JobRecord> = {}) => {
    current = { ...current, ...patch, state };
    emit({ event: "job_state", ...base(), state, ...(current.error ? { error: current.error } : {}) });
    await appending;
    await records.write(current);
  };
  let lastProgress = 0;
  let emitted: JobRecord["progress"] | null = null;
  const emitProgress = () => {
    emitted = current.progress;
    emit({ event: "job_progress", ...base(), progress: current.progress });
  };
  const ctx: JobContext = {
    id: current.id,
    attempts: current.attempts + 1,
    plan: current.plan,
    dir: records.jobDir(current.id),
    cwd: current.cwd,
    store,
    signal,
    effects: options.effects ?? {},
    progress(done, total, message, rate) {
      current = {
        ...current,
        progress: { unit: current.plan.progress_unit, done, total, ...(message ? { message } : {}), ...rate },
      };
      // Bytes come many times a second: at most one event per `every` ms. Steps, files and inputs: each one.
      const now = performance.now();
      if (current.plan.progress_unit === "bytes" && now - lastProgress < every && done !== total) return;
      lastProgress = now;
      emitProgress();
    },
    artifact(artifact) {
      current = {
        ...current,
        artifacts: [...current.artifacts.filter((a) => a.id !== artifact.id), artifact],
      };
      emit({ event: "job_artifact", ...base(), artifact });
    },
    log(message, level = "info") {
      current = { ...current, diagnostics: [...current.diagnostics, message] };
      emit({ event: "job_log", ...base(), level, message });
    },
    forward(event) {
      options.onForward?.(event);
    },
  };
  await setState("running", {
    started_at: at(),
    finished_at: null,
    error: null,
    pid: Deno.pid,
    pid_start: await processStart(Deno.pid),
    attempts: current.attempts + 1,
  });
  try {
    const result = await runKind(ctx);
    signal.throwIfAborted();
    if (emitted !== current.progress) emitProgress();
    await setState("succeeded", { result: result ?? null, finished_at: at() });
    return { record: current, error: null };
  } catch (e) {
    if (signal.aborted && isLodeError(signal.reason, "INTERRUPTED")) {
      // Stopped, not cancelled (the daemon running it is shutting down): `lode job resume` continues it.
      const error = signal.reason;
      await setState("interrupted", { error: brief(error), finished_at: null });
      return { record: current, error };
    }
    if (signal.aborted) {
      const error = new LodeError("CANCELLED", `job ${current.id} was cancelled`, {
        details: { id: current.id },
      });
      await setState("cancelled", { error: brief(error), finished_at: at() });
      return { record: current, error };
    }
    const error = toLodeError(e);
    await setState("failed", { error: brief(error), finished_at: at() });
    return { record: current, error };
  }
}

function brief(e: LodeError): { code: string; message: string; hint: string } {
  return { code: e.code, message: e.message, hint: e.hint };
}

async function runKind(ctx: JobContext): Promise<unknown> {
  const spec = ctx.plan.spec;
  const forward = (event: { event: string }) => ctx.forward(event);
  switch (spec.kind) {
    case "model-external-command":
      return await runExternalCommand(ctx, spec);
    case "model-validate-bundle":
      return await runValidate(ctx, spec);
    case "model-materialize-bundle":
      return await runMaterialize(ctx, spec);
    case "model-download": {
      const pull = needs(ctx.effects.pull, spec.kind);
      let total: number | null = null;
      const perFile = new Map<string, { done: number; total: number | null }>();
      const onEvent = (event: { event: string }) => {
        const e = event as {
          event: string;
          total_bytes?: number | null;
          filename?: string;
          downloaded_bytes?: number;
        };
        if (e.event === "started") total = e.total_bytes ?? null;
        if (e.event === "file_progress" && e.filename !== undefined && e.downloaded_bytes !== undefined) {
          perFile.set(e.filename, { done: e.downloaded_bytes, total: e.total_bytes ?? null });
          const files = [...perFile.values()];
          const known = files.every((f) => f.total !== null) ? files.reduce((n, f) => n + f.total!, 0) : null;
          ctx.progress(files.reduce((n, f) => n + f.done, 0), total ?? known);
        }
        forward(event);
      };
      const { name, result } = await pull(spec.ref, {
        ...(spec.name ? { name: spec.name } : {}),
        ...(spec.sha256 ? { sha256: spec.sha256 } : {}),
        signal: ctx.signal,
        onEvent,
      });
      ctx.artifact(await manifestArtifact(ctx, name));
      return result;
    }
    case "lock-add":
    case "sync": {
      const effect = needs(spec.kind === "sync" ? ctx.effects.sync : ctx.effects.lockAdd, spec.kind);
      const result = await effect(spec, { cwd: ctx.cwd, signal: ctx.signal, onEvent: forward });
      const lockfile = (result as { lockfile?: unknown } | null)?.lockfile;
      if (typeof lockfile === "string") {
        ctx.artifact(await fileArtifact("lockfile", lockfile, "application/json"));
      }
      return result;
    }
    case "model-warmup":
    case "model-inference": {
      const effect = needs(
        spec.kind === "model-warmup" ? ctx.effects.warmup : ctx.effects.inference,
        spec.kind,
      );
      ctx.progress(0, 1);
      const result = await effect(spec, { cwd: ctx.cwd, signal: ctx.signal, onEvent: forward });
      const output = (result as { output?: unknown } | null)?.output;
      if (typeof output === "string") ctx.artifact(await fileArtifact("output", output, "text/plain"));
      ctx.progress(1, 1);
      return result;
    }
    case "model-push":
      return await runPush(ctx, spec, needs(ctx.effects.push, spec.kind));
    case "model-batch-inference": {
      const effect = needs(ctx.effects.batch, spec.kind);
      const result = await effect(spec, {
        cwd: ctx.cwd,
        signal: ctx.signal,
        onEvent: forward,
        progress: (done, total, rate) => ctx.progress(done, total, undefined, rate),
        resumed: ctx.attempts > 1,
      });
      ctx.artifact(await fileArtifact("output", result.output, "application/x-ndjson"));
      ctx.artifact(await fileArtifact("errors", result.errors, "application/x-ndjson"));
      return result;
    }
  }
}

function needs<T>(effect: T | undefined, kind: string): T {
  if (effect === undefined) {
    throw new LodeError("JOB_NOT_IMPLEMENTED", `this lode plans ${kind} jobs but does not run them`, {
      details: { kind },
    });
  }
  return effect;
}
