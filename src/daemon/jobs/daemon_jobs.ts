/**
 * The jobs a daemon runs ({@link DaemonJobs}): submitted over its socket, run in the daemon's process so
 * that they outlive the client that asked, recorded like every job under `<store>/jobs/<id>/`.
 *
 * - **Submit**: the spec is checked and planned (`parseJobSpec`, `planJob`), the record is written with
 *   the daemon's socket in it (so `lode job cancel` asks the daemon), and the job starts at once. A job
 *   asking for what a running one already does — the same download, the same warmup — joins it
 *   (`shared`): two clients pulling one model share one download.
 * - **Watch**: a job's events by sequence number, the line number in its `events.ndjson`: the lines of
 *   earlier runs from the file, this run's from memory (`running_job.ts`), then live until the job ends.
 *   A watcher reads at its own pace through a cursor: the job never waits for it, and nothing is dropped.
 * - **Events**: each job event is published on the daemon's stream (source `job`), and the download
 *   events of its pull with its `job_id` (source `download`).
 * - **Stop** ({@link DaemonJobs.stop}): running jobs are aborted with `INTERRUPTED`, so they are recorded
 *   `interrupted` (partials kept), and the next daemon, or `lode job resume ID`, continues them. A daemon
 *   killed outright leaves them `running` on disk with its pid gone, which reads `interrupted` too.
 *
 * @example
 * ```ts
 * import { EventStream } from "../../events/event_stream.ts";
 * import { ModelStore } from "../../store/model_store.ts";
 * import { DaemonJobs } from "./daemon_jobs.ts";
 * const jobs = new DaemonJobs({ store: await ModelStore.open("/srv/models"), events: new EventStream(), effects: {} });
 * const { record } = await jobs.submit("model-validate-bundle", { model: "stories260K" });
 * for await (const item of jobs.watch(record.id)) {
 *   if (item.source === "job") console.log(item.seq, item.event.event);
 * }
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import { type PulledByJob, pulledOf } from "./pulled_by_job.ts";
import { followRun, newRunningJob, type RunningJob, wakeWatchers, type WatchItem } from "./running_job.ts";
import { shareKey } from "./share_key.ts";
import type { DownloadEvent } from "../../events/download_event.ts";
import type { EventStream } from "../../events/event_stream.ts";
import { isFinished } from "../../events/job_event.ts";
import type { JobEffects } from "../../jobs/job_context.ts";
import type { JobSummary } from "../../jobs/job_index.ts";
import { lookUpJobRef, planJob } from "../../jobs/job_plan.ts";
import { cancelStoppedJob, claimJob, type JobClaim, resumableRecord } from "../../jobs/job_claim.ts";
import { type JobRecord, JobRecords } from "../../jobs/job_record.ts";
import { runJob } from "../../jobs/job_runner.ts";
import { parseJobSpec } from "../../jobs/job_spec.ts";
import type { RegistryLookup } from "../../registry/registry_lookup.ts";
import type { ModelStore } from "../../store/model_store.ts";

export type { WatchItem } from "./running_job.ts";

/** Options of {@link DaemonJobs}. */
export interface DaemonJobsOptions {
  store: ModelStore;
  /** The daemon's event stream. */
  events: Pick<EventStream, "publish">;
  /** What the kinds that reach outside the store do here (the daemon's pull, load and generation). */
  effects: JobEffects;
  /** The daemon's inference socket, written in its jobs' records. */
  socket?: string;
  /** Where a job's relative paths start when its client gives no directory. Default `Deno.cwd()`. */
  cwd?: string;
  /** Lines for the daemon's operator. */
  notice?: (line: string) => void;
  /** The registry claiming a scheme, as the command's (a job's reference is parsed by its registry's grammar). */
  lookupRegistry?: RegistryLookup;
}

/** The daemon's jobs (see the module doc). */
export class DaemonJobs {
  readonly records: JobRecords;
  readonly #options: DaemonJobsOptions;
  readonly #running = new Map<string, RunningJob>();
  /** Share keys of running jobs (and of ones being created), to their ids. */
  readonly #byKey = new Map<string, Promise<string>>();
  /** Download jobs a request's load started and left: the next load of the same reference resumes them. */
  readonly #left = new Map<string, string>();
  #stopping = false;
  #effects: JobEffects;

  constructor(options: DaemonJobsOptions) {
    this.#options = options;
    this.#effects = { ...options.effects };
    this.records = new JobRecords(options.store.layout.root);
  }

  /** The store whose jobs these are. */
  get store(): ModelStore {
    return this.#options.store;
  }

  /** Adds effects for the kinds that need the daemon's serving side (its warmup and inference). */
  addEffects(more: JobEffects): void {
    this.#effects = { ...this.#effects, ...more };
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Plans and starts a job of `kind` (`JOB_KIND_UNKNOWN`, `JOB_SPEC_INVALID` before anything is
   * written); `shared` when a running job already does the same and is returned instead.
   */
  submit(kind: string, rawSpec: unknown, cwd?: string): Promise<{ record: JobRecord; shared: boolean }> {
    return this.#submit(kind, rawSpec, cwd, true);
  }

  /** {@link submit}; `asked`: by a client over the socket (else by a request's load, see {@link pull}). */
  async #submit(
    kind: string,
    rawSpec: unknown,
    cwd: string | undefined,
    asked: boolean,
  ): Promise<{ record: JobRecord; shared: boolean }> {
    this.#refuseWhenStopping();
    const spec = parseJobSpec(kind, rawSpec);
    const ref = await lookUpJobRef(spec, this.#options.lookupRegistry);
    this.#refuseWhenStopping();
    const plan = planJob(spec, { ref });
    const key = shareKey(spec);
    const existing = key === null ? undefined : this.#byKey.get(key);
    if (existing !== undefined) {
      const id = await existing;
      const running = this.#running.get(id);
      if (running && asked) running.asked = true;
      return { record: await this.get(id), shared: true };
    }
    const created = this.records.create(plan, cwd ?? this.#options.cwd ?? Deno.cwd(), new Date(), {
      ...(this.#options.socket !== undefined ? { daemonSocket: this.#options.socket } : {}),
    });
    if (key !== null) {
      const id = created.then((r) => r.id);
      id.catch(() => this.#byKey.delete(key));
      this.#byKey.set(key, id);
    }
    const record = await created;
    const claim = await claimJob(this.records.jobDir(record.id));
    return { record: await this.#start(record, key, 0, claim, asked), shared: false };
  }

  /**
   * The download a request's load needs (the model provider's pull of a reference): joins the job pulling
   * `ref`, else resumes the one an earlier load left, else starts one; its download events go to
   * `onDownload` as they come (the load's status phases). When `signal` aborts (every request waiting for the
   * load went away) a job no client asked for over the socket stops, `interrupted`, its partial kept for the
   * next load; one a client asked for goes on. Rejects with the pull's own typed error.
   */
  async pull(
    ref: string,
    call: { signal: AbortSignal; onDownload: (event: DownloadEvent) => void },
  ): Promise<PulledByJob> {
    const key = shareKey({ kind: "model-download", ref });
    let id: string;
    const joined = key === null ? undefined : this.#byKey.get(key!);
    const left = this.#left.get(key!);
    if (joined !== undefined) id = await joined;
    else if (left !== undefined) {
      this.#left.delete(key!);
      const submit = () => this.#submit("model-download", { ref }, undefined, false).then((r) => r.record);
      id = (await this.#resume(left, false).catch(submit)).id;
    } else id = (await this.#submit("model-download", { ref }, undefined, false)).record.id;
    const running = this.#running.get(id);
    if (running === undefined) return pulledOf(await this.records.read(id), null);
    const stop = () => {
      if (running.asked || running.finished) return;
      this.#left.set(key!, id);
      running.controller.abort(
        new LodeError("INTERRUPTED", `every request waiting for ${ref} went away`, { details: { id, ref } }),
      );
    };
    call.signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const item of this.watch(id, Infinity)) {
        if (item.source === "download") call.onDownload(item.event);
      }
      return pulledOf(await running.outcome, running.error);
    } finally {
      call.signal.removeEventListener("abort", stop);
    }
  }

  /** Runs interrupted job `id` again here (`JOB_NOT_RESUMABLE`, `JOB_FINISHED` when it cannot). */
  resume(id: string): Promise<JobRecord> {
    return this.#resume(id, true);
  }

  async #resume(id: string, asked: boolean): Promise<JobRecord> {
    this.#refuseWhenStopping();
    if (this.#running.has(id)) {
      throw new LodeError("JOB_NOT_RESUMABLE", `job ${id} is running in this daemon`, {
        details: { id, state: "running" },
      });
    }
    // One process runs a job: the claim, then the record read again under it.
    resumableRecord(await this.records.read(id));
    const claim = await claimJob(this.records.jobDir(id));
    let record: JobRecord;
    try {
      record = resumableRecord(await this.records.read(id));
    } catch (e) {
      await claim.release();
      throw e;
    }
    const key = shareKey(record.plan.spec);
    const joined = key === null ? undefined : this.#byKey.get(key);
    if (joined !== undefined) {
      await claim.release();
      throw new LodeError(
        "JOB_NOT_RESUMABLE",
        `job ${await joined} is doing what job ${id} did; watch it instead`,
        {
          details: { id, running: await joined },
        },
      );
    }
    const base = (await this.records.readEvents(id)).length;
    const owned: JobRecord = {
      ...record,
      ...(this.#options.socket !== undefined ? { daemon_socket: this.#options.socket } : {}),
    };
    if (key !== null) this.#byKey.set(key, Promise.resolve(id));
    return await this.#start(owned, key, base, claim, asked);
  }

  /** Job `id` as it stands (`JOB_NOT_FOUND` when there is none); a running one with its live state and progress. */
  async get(id: string): Promise<JobRecord> {
    const record = await this.records.read(id);
    const running = this.#running.get(id);
    if (running === undefined) return record;
    return {
      ...record,
      ...(running.state ? { state: running.state } : {}),
      ...(running.progress ? { progress: running.progress } : {}),
    };
  }

  /** Every job of the store, oldest first; the running ones with their live progress. */
  async list(): Promise<JobSummary[]> {
    const all = await this.records.list();
    return all.map((s) => {
      const running = this.#running.get(s.id);
      if (running === undefined) return s;
      return {
        ...s,
        ...(running.state ? { state: running.state } : {}),
        ...(running.progress ? { progress: running.progress } : {}),
      };
    });
  }

  /**
   * The events of job `id` after `since`, then live ones until it ends (or `signal` aborts); a job not
   * running here gives what its file holds. Download events come with this run's (of what happened
   * before the watch, progress is left out: the next one tells where it is). `JOB_NOT_FOUND` for an
   * unknown id, before anything else.
   */
  async *watch(id: string, since = 0, signal?: AbortSignal): AsyncGenerator<WatchItem> {
    const running = this.#running.get(id);
    const past = running === undefined || since < running.base;
    if (running === undefined) await this.records.read(id);
    if (past) {
      const events = await this.records.readEvents(id, running?.base ?? Infinity);
      for (let i = since; i < events.length; i++) yield { source: "job", seq: i + 1, event: events[i]! };
    }
    if (running === undefined) return;
    yield* followRun(running, since, signal);
  }

  /**
   * Cancels job `id`: a running one stops (partials kept, no manifest half written) and resolves with its
   * `cancelled` record; an interrupted one is closed as `cancelled`. `JOB_FINISHED` for a finished job.
   */
  async cancel(id: string): Promise<JobRecord> {
    const running = this.#running.get(id);
    if (running !== undefined && !running.finished) {
      running.controller.abort();
      return await running.outcome;
    }
    const record = await this.records.read(id);
    if (isFinished(record.state)) {
      throw new LodeError(
        "JOB_FINISHED",
        `job ${id} has already ${record.state === "cancelled" ? "been cancelled" : record.state}`,
        { details: { id, state: record.state } },
      );
    }
    if (record.state !== "interrupted") {
      throw new LodeError("BAD_REQUEST", `job ${id} runs in process ${record.pid}, not in this daemon`, {
        details: { id, pid: record.pid },
        hint: `\`lode job cancel ${id}\` stops it there.`,
      });
    }
    return await cancelStoppedJob(this.records, record) ?? await this.cancel(id);
  }

  /**
   * Interrupts every running job (each is recorded `interrupted`, resumable) and refuses new ones;
   * resolves once their records are written.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    const outcomes = [...this.#running.values()].map((r) => {
      r.controller.abort(
        new LodeError("INTERRUPTED", `the daemon stopped while job ${r.id} ran`, {
          details: { id: r.id },
          hint: `\`lode job resume ${r.id}\` continues it (a download from its partial).`,
        }),
      );
      return r.outcome.catch(() => {});
    });
    await Promise.all(outcomes);
  }

  #refuseWhenStopping(): void {
    if (this.#stopping) {
      throw new LodeError("DRAINING", "the daemon is shutting down and takes no new jobs", {
        hint: "Run the job again once the daemon is back, or with `lode job run` here.",
      });
    }
  }

  /** Starts `record`'s run; resolves with its record once it is `running` (or has ended). */
  #start(
    record: JobRecord,
    key: string | null,
    base: number,
    claim: JobClaim,
    asked: boolean,
  ): Promise<JobRecord> {
    const started = Promise.withResolvers<void>();
    const { events } = this.#options;
    const running = newRunningJob(record, key, base, asked);
    const wake = () => wakeWatchers(running);
    this.#running.set(record.id, running);
    running.outcome = runJob(record, {
      records: this.records,
      store: this.#options.store,
      signal: running.controller.signal,
      effects: this.#effects,
      onEvent: (event) => {
        running.log.push({ source: "job", seq: base + ++running.jobEvents, event });
        if (event.event === "job_progress") running.progress = event.progress;
        events.publish("job", event, { jobId: record.id });
        if (event.event === "job_state") {
          running.state = event.state;
          started.resolve();
        }
        wake();
      },
      // The daemon's effects forward their pull's download events.
      onForward: (forwarded) => {
        const event = forwarded as DownloadEvent;
        running.log.push({ source: "download", event });
        events.publish("download", event, { jobId: record.id });
        wake();
      },
    }).then(({ record: done, error }) => {
      running.error = error;
      this.#options.notice?.(`job ${done.id} (${done.kind}) ${done.state}`);
      return done;
    }).finally(async () => {
      await claim.release();
      running.finished = true;
      this.#running.delete(record.id);
      if (key !== null) this.#byKey.delete(key);
      started.resolve();
      wake();
    });
    return started.promise.then(() => this.get(record.id));
  }
}
