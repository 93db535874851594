/**
 * The batches of the OpenAI Batch API, each run by a `model-batch-inference` job of the daemon's jobs
 * (../jobs/daemon_jobs.ts) in the store's `openai` folder: its input is the uploaded file's bytes
 * (`files/<id>.data`), its output and error files are written at the ids the batch reserved, and are
 * registered as files (purpose `batch_output`) once the job ends.
 *
 * - **Create** checks the request (`endpoint`, `completion_window` `24h`, `metadata`) and the input file
 *   (batch_input_check.ts); a file with problems makes a `failed` batch listing them in `errors`, with no
 *   job. Otherwise the job is submitted, with the model every line names.
 * - **Retrieve** and **list** read the job's record (batch_object.ts maps its state); a batch whose job
 *   ended has its files registered then, if that was not done yet; one whose job is `interrupted` (its
 *   daemon stopped) is resumed here. {@link BatchService.start} does both for every batch when the
 *   daemon starts, so a batch survives a restart. A batch past its 24 h window is cancelled (`expired`).
 * - **Cancel** records when it was asked and cancels the job: its finished results are kept and
 *   registered as the output file; the batch is `cancelling`, then `cancelled`.
 *
 * @example
 * ```ts
 * import { EventStream } from "../../events/event_stream.ts";
 * import { ModelStore } from "../../store/model_store.ts";
 * import { DaemonJobs } from "../jobs/daemon_jobs.ts";
 * import { BatchService } from "./batch_service.ts";
 * import { FileStore } from "./file_store.ts";
 * const store = await ModelStore.open("/srv/models");
 * const jobs = new DaemonJobs({ store, events: new EventStream(), effects: {} });
 * const batches = new BatchService({ storeRoot: "/srv/models", jobs, files: new FileStore("/srv/models") });
 * await batches.start();
 * ```
 * @module
 */
import { isLodeError, LodeError } from "../../errors.ts";
import { isFinished } from "../../events/job_event.ts";
import type { JobRecord } from "../../jobs/job_record.ts";
import { joinPath } from "../../path.ts";
import type { DaemonJobs } from "../jobs/daemon_jobs.ts";
import { type BatchObject, batchObject, batchStatus, batchUsage, WINDOW_SECONDS } from "./batch_object.ts";
import { checkBatchInput } from "./batch_input_check.ts";
import { type BatchRecord, BatchStore, newBatchId } from "./batch_store.ts";
import { fileExpired, type FileStore, newFileId, noSuchFile } from "./file_store.ts";
import { type ListPage, listPage } from "./list_page.ts";
import { batchCreateParams } from "./batch_params.ts";
import { HttpRefusal } from "../openai/openai_responses.ts";

/** What the service needs of the daemon's jobs. */
export type BatchJobs = Pick<DaemonJobs, "submit" | "get" | "cancel" | "resume" | "watch">;

/** Options of {@link BatchService}. */
export interface BatchServiceOptions {
  storeRoot: string;
  jobs: BatchJobs;
  files: FileStore;
  /** Lines for the daemon's operator. */
  notice?: (line: string) => void;
  /** Wall clock in milliseconds. Default `Date.now`. */
  clock?: () => number;
}

/** The Batch API's batches (see the module doc). */
export class BatchService {
  readonly store: BatchStore;
  /** `<store>/openai`: the jobs' directory. */
  readonly #cwd: string;
  readonly #o: BatchServiceOptions;
  /** Batches whose job end is awaited here, to register their files. */
  readonly #following = new Set<string>();
  /** The sweep running, if any. */
  #sweeping: Promise<void> | null = null;
  /** Batches whose interrupted job is being resumed here. */
  readonly #resuming = new Map<string, Promise<{ record: BatchRecord; job: JobRecord | null }>>();

  constructor(options: BatchServiceOptions) {
    this.#o = options;
    this.store = new BatchStore(options.storeRoot);
    this.#cwd = joinPath(options.storeRoot, "openai");
  }

  /** Resumes every batch whose job was interrupted and registers the files of those that ended. */
  async start(): Promise<void> {
    await this.sweep();
  }

  /**
   * Brings every batch up to date — an interrupted job resumed, one past its 24 h window cancelled
   * (`expired`), the files of one that ended registered — and deletes the files whose `expires_at` passed
   * (an unfinished batch's input waits for it to end). The daemon runs it when it starts and then
   * periodically; a sweep asked while one runs joins it.
   */
  sweep(): Promise<void> {
    this.#sweeping ??= this.#sweepOnce().finally(() => this.#sweeping = null);
    return this.#sweeping;
  }

  async #sweepOnce(): Promise<void> {
    for (const record of await this.store.list()) {
      if (record.finalized !== null) continue;
      try {
        await this.#refresh(record);
      } catch (e) {
        this.#o.notice?.(`batch ${record.id}: ${(e as Error).message}`);
      }
    }
    const now = Math.floor(this.#now() / 1000);
    for (const file of await this.#o.files.list()) {
      if (!fileExpired(file, now)) continue;
      try {
        if (await this.usedBy(file.id) !== null) continue;
        await this.#o.files.delete(file.id);
        this.#o.notice?.(`file ${file.id} (${file.filename}) expired: deleted`);
      } catch (e) {
        if (!isLodeError(e, "FILE_NOT_FOUND")) this.#o.notice?.(`file ${file.id}: ${(e as Error).message}`);
      }
    }
  }

  /** `POST /v1/batches`: the new batch (`validating`, or `failed` when its input has problems). */
  async create(body: unknown): Promise<BatchObject> {
    const params = batchCreateParams(body);
    const input = await this.#o.files.get(params.input_file_id).catch((e) => {
      throw isLodeError(e, "FILE_NOT_FOUND") ? noSuchFile(params.input_file_id, "input_file_id") : e;
    });
    // Past its expires_at a file is gone to the API, whether or not the sweep has deleted it yet.
    if (fileExpired(input, Math.floor(this.#now() / 1000))) throw noSuchFile(input.id, "input_file_id");
    if (input.purpose !== "batch") {
      throw new LodeError("BAD_REQUEST", `the file ${input.id} has purpose ${input.purpose}, not batch`, {
        details: { field: "input_file_id" },
      });
    }
    const text = await Deno.readTextFile(this.#o.files.dataPath(input.id)).catch((e) => {
      throw e instanceof Deno.errors.NotFound ? noSuchFile(input.id, "input_file_id") : e;
    });
    const check = checkBatchInput(text, { file: input.filename, endpoint: params.endpoint });
    const now = this.#now();
    const record: BatchRecord = {
      id: newBatchId(now),
      input_file_id: input.id,
      endpoint: params.endpoint,
      completion_window: params.completion_window,
      metadata: params.metadata,
      model: check.ok ? check.model : null,
      created_at: Math.floor(now / 1000),
      total: check.total,
      job_id: null,
      output_file: newFileId(now),
      error_file: newFileId(now),
      errors: check.ok ? null : check.errors,
      cancelling_at: null,
      expired_at: null,
      finalized: null,
      usage: null,
      output_expires_after_seconds: params.output_expires_after_seconds,
    };
    if (check.ok) {
      const { record: job } = await this.#o.jobs.submit("model-batch-inference", {
        model: check.model,
        inputs: this.#o.files.relativeDataPath(input.id),
        output: this.#o.files.relativeDataPath(record.output_file),
        errors: this.#o.files.relativeDataPath(record.error_file),
        metadata: { batch_id: record.id, input_file_id: input.id },
      }, this.#cwd);
      record.job_id = job.id;
      await this.store.write(record);
      this.#follow(record);
      return batchObject(record, recorded(job));
    }
    await this.store.write(record);
    return batchObject(record, null);
  }

  /** `GET /v1/batches/{id}`. */
  async retrieve(id: string): Promise<BatchObject> {
    return await this.#refresh(await this.store.get(id));
  }

  /** `GET /v1/batches`: newest first, `after` and `limit` (1–100, default 20). */
  async list(query: URLSearchParams): Promise<ListPage<BatchObject>> {
    const page = listPage(await this.store.list(), query, {
      defaultLimit: 20,
      maxLimit: 100,
      defaultOrder: "desc",
    });
    return { ...page, data: await Promise.all(page.data.map((r) => this.#refresh(r))) };
  }

  /** `POST /v1/batches/{id}/cancel`: `cancelling` (then `cancelled`); 409 for a batch that has ended. */
  async cancel(id: string): Promise<BatchObject> {
    let record = await this.store.get(id);
    const job = await this.#job(record);
    const status = batchStatus(record, job);
    if (status === "cancelling" || status === "cancelled") return await this.#refresh(record);
    if (job === null || isFinished(job.state)) {
      throw new HttpRefusal(
        409,
        "JOB_FINISHED",
        `batch ${id} has ended (${status}); it cannot be cancelled`,
        {
          details: { id, status },
          hint: "Only a batch that is validating or in progress can be cancelled.",
        },
      );
    }
    record = { ...record, cancelling_at: Math.floor(this.#now() / 1000) };
    await this.store.write(record);
    this.#stop(record);
    return batchObject(record, await this.#job(record));
  }

  /** The batch, not ended, whose input is file `id`, if any. */
  async usedBy(fileId: string): Promise<string | null> {
    for (const record of await this.store.list()) {
      if (record.input_file_id !== fileId) continue;
      const job = await this.#job(record);
      if (job !== null && !isFinished(job.state)) return record.id;
    }
    return null;
  }

  /**
   * `record` as it stands: its files registered once its job ended, its job resumed when interrupted (or
   * cancelled when a cancel was asked or its window passed).
   */
  async #refresh(record: BatchRecord): Promise<BatchObject> {
    let job = await this.#job(record);
    if (job !== null && !isFinished(job.state)) {
      const now = Math.floor(this.#now() / 1000);
      if (record.expired_at === null && now >= record.created_at + WINDOW_SECONDS) {
        record = { ...record, expired_at: now };
        await this.store.write(record);
      }
      if (record.cancelling_at !== null || record.expired_at !== null) this.#stop(record);
      else if (job.state === "interrupted") ({ record, job } = await this.#resume(record, job));
      else this.#follow(record);
    }
    if (job !== null && isFinished(job.state) && record.finalized === null) {
      record = await this.#finalize(record);
    }
    return batchObject(record, job);
  }

  /** Runs the interrupted job of batch `record` again, once however many ask at the same time. */
  #resume(record: BatchRecord, job: JobRecord): Promise<{ record: BatchRecord; job: JobRecord | null }> {
    let resuming = this.#resuming.get(record.id);
    if (resuming === undefined) {
      resuming = this.#resumeOnce(record, job).finally(() => this.#resuming.delete(record.id));
      this.#resuming.set(record.id, resuming);
    }
    return resuming;
  }

  /**
   * A resumable job is resumed; one whose kind starts over as a job is replaced by a new job on the same
   * files, which skips the requests the output and error files already answer.
   */
  async #resumeOnce(
    record: BatchRecord,
    job: JobRecord,
  ): Promise<{ record: BatchRecord; job: JobRecord | null }> {
    if (job.plan.resumable) {
      try {
        const resumed = await this.#o.jobs.resume(job.id);
        this.#o.notice?.(`batch ${record.id}: resumed job ${job.id}`);
        this.#follow(record);
        return { record, job: resumed };
      } catch (e) {
        // Another process runs it now (JOB_RUNNING), or it ended meanwhile: its record says which.
        if (!isLodeError(e)) throw e;
        return { record, job: await this.#job(record) };
      }
    }
    const current = await this.store.get(record.id);
    if (current.job_id !== job.id) return { record: current, job: await this.#job(current) };
    const { record: next } = await this.#o.jobs.submit("model-batch-inference", job.plan.spec, job.cwd);
    const replaced = { ...current, job_id: next.id };
    await this.store.write(replaced);
    this.#o.notice?.(`batch ${record.id}: job ${next.id} goes on from interrupted job ${job.id}`);
    this.#follow(replaced);
    return { record: replaced, job: next };
  }

  /** Cancels the batch's job in the background; its files are registered once it stopped. */
  #stop(record: BatchRecord): void {
    if (record.job_id === null) return;
    this.#o.jobs.cancel(record.job_id).then(
      () => this.#finalize(record),
      (e) => {
        if (!isLodeError(e, "JOB_FINISHED")) this.#o.notice?.(`batch ${record.id}: cancel: ${e}`);
      },
    ).catch((e) => this.#o.notice?.(`batch ${record.id}: ${e}`));
  }

  /** Waits (in the background) for the batch's job to end, then registers its files. */
  #follow(record: BatchRecord): void {
    if (record.job_id === null || this.#following.has(record.id)) return;
    this.#following.add(record.id);
    (async () => {
      for await (const _ of this.#o.jobs.watch(record.job_id!)) { /* until it ends */ }
      const job = await this.#o.jobs.get(record.job_id!);
      if (isFinished(job.state)) await this.#finalize(await this.store.get(record.id));
    })().catch((e) => this.#o.notice?.(`batch ${record.id}: ${e}`)).finally(() =>
      this.#following.delete(record.id)
    );
  }

  /**
   * Registers the output and error files the job left (those with bytes), keeps the tokens its answers used
   * and marks the batch finalized.
   */
  async #finalize(record: BatchRecord): Promise<BatchRecord> {
    const current = await this.store.get(record.id);
    if (current.finalized !== null) return current;
    const expires = current.output_expires_after_seconds;
    const output = await this.#register(current.output_file, `${current.id}_output.jsonl`, expires);
    const error = await this.#register(current.error_file, `${current.id}_error.jsonl`, expires);
    const usage = batchUsage(current, await this.#job(current));
    const done = { ...current, finalized: { output, error }, usage };
    await this.store.write(done);
    return done;
  }

  async #register(id: string, filename: string, expiresAfterSeconds: number | null): Promise<boolean> {
    if (await this.#o.files.has(id)) return true;
    const size = await Deno.stat(this.#o.files.dataPath(id)).then((s) => s.size, () => 0);
    if (size === 0) return false;
    await this.#o.files.register(id, {
      filename,
      purpose: "batch_output",
      bytes: size,
      now: this.#now(),
      ...(expiresAfterSeconds === null ? {} : { expiresAfterSeconds }),
    });
    return true;
  }

  async #job(record: BatchRecord): Promise<JobRecord | null> {
    if (record.job_id === null) return null;
    try {
      return recorded(await this.#o.jobs.get(record.job_id));
    } catch (e) {
      if (isLodeError(e, "JOB_NOT_FOUND")) return null;
      throw e;
    }
  }

  #now(): number {
    return (this.#o.clock ?? Date.now)();
  }
}

/**
 * `job` as far as its record tells: a running job's state is known before its record holds what goes with
 * it (its start, its end and error), and until then it is still in the state before.
 */
function recorded(job: JobRecord): JobRecord {
  if (isFinished(job.state) && job.finished_at === null) return { ...job, state: "running" };
  if (job.state === "running" && job.started_at === null) return { ...job, state: "queued" };
  return job;
}
