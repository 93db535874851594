/**
 * A job running in the daemon ({@link RunningJob}): its controller, its live state and progress, and the
 * log of this run's events that watchers read ({@link followRun}). A watcher reads at its own pace through
 * a cursor into the log: the job never waits for it, and nothing is dropped.
 * @module
 */
import type { LodeError } from "../../errors.ts";
import type { DownloadEvent } from "../../events/download_event.ts";
import type { JobEvent, JobProgress, JobState } from "../../events/job_event.ts";
import type { JobRecord } from "../../jobs/job_record.ts";

/**
 * What a watch gives: a job event with its number (its position in the job's `events.ndjson`, 1 for the
 * first), or a download event of the job's pull (not numbered, not kept on disk).
 */
export type WatchItem =
  | { source: "job"; seq: number; event: JobEvent }
  | { source: "download"; event: DownloadEvent };

/** A job running in this daemon. */
export interface RunningJob {
  readonly id: string;
  readonly key: string | null;
  readonly controller: AbortController;
  /** Lines of `events.ndjson` written by earlier runs. */
  readonly base: number;
  /** This run's events, in order; `seq` counts job events only. */
  readonly log: WatchItem[];
  /** Job events of this run. */
  jobEvents: number;
  progress: JobProgress | null;
  /** The state its last `job_state` event gave (the record on disk follows it). */
  state: JobState | null;
  finished: boolean;
  /** Resolved (and replaced) at every event and at the end. */
  wake: PromiseWithResolvers<void>;
  outcome: Promise<JobRecord>;
  /** The typed error of a run that did not succeed (the record keeps its code, message and hint). */
  error: LodeError | null;
  /** True once a client asked for it over the socket (a job a request's load started stops with it, else). */
  asked: boolean;
}

/** A run of `record` about to start: nothing logged yet, after `base` lines of earlier runs. */
export function newRunningJob(
  record: JobRecord,
  key: string | null,
  base: number,
  asked: boolean,
): RunningJob {
  return {
    id: record.id,
    key,
    controller: new AbortController(),
    base,
    log: [],
    jobEvents: 0,
    progress: null,
    state: null,
    finished: false,
    wake: Promise.withResolvers<void>(),
    outcome: Promise.resolve(record),
    error: null,
    asked,
  };
}

/** Wakes the watchers of `running` (after an event, and at the end). */
export function wakeWatchers(running: RunningJob): void {
  const w = running.wake;
  running.wake = Promise.withResolvers<void>();
  w.resolve();
}

/**
 * This run's events of `running` after job event `since`, then live ones until it ends (or `signal`
 * aborts). Of the download events logged before the call, progress is left out: the next one tells where
 * it is.
 */
export async function* followRun(
  running: RunningJob,
  since: number,
  signal?: AbortSignal,
): AsyncGenerator<WatchItem> {
  const aborted = signal
    ? new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }))
    : null;
  const caughtUp = running.log.length;
  let i = 0;
  while (!signal?.aborted) {
    for (; i < running.log.length; i++) {
      const item = running.log[i]!;
      if (
        item.source === "job" ? item.seq <= since : i < caughtUp && item.event.event === "file_progress"
      ) {
        continue;
      }
      yield item;
    }
    if (running.finished) return;
    const next = running.wake.promise;
    await (aborted ? Promise.race([next, aborted]) : next);
  }
}
