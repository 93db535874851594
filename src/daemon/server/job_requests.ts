/**
 * The inference socket's job ops (docs/protocol.md, "Jobs"), answered from the daemon's
 * {@link DaemonJobs}: `job_submit` and `job_resume` answer the job's record at once (the job runs on
 * without the client), `job_get` and `job_cancel` a record, `job_list` the summaries, and `job_watch`
 * streams `job_event` frames — the job's past events after `since`, then live ones — with the
 * `job_download` frames of its pull, and, once the job has ended, its final record. A watch is paced by its client: it reads the job's events through a cursor,
 * so a client that never reads holds only its own connection's buffer, never the job.
 *
 * @example
 * ```ts
 * import { handleJobRequest, type JobRequestContext } from "./job_requests.ts";
 * declare const ctx: JobRequestContext;
 * await handleJobRequest({ id: "j1", op: "job_list" }, ctx);
 * ctx.send({ id: "j1", type: "done" });
 * ```
 * @module
 */
import type { DaemonJobs } from "../jobs/daemon_jobs.ts";
import type { Request, RequestOf, ResponseFrame } from "../wire/protocol.ts";

/** The job ops. */
export type JobOp = Extract<Request["op"], `job_${string}`>;

/** True when `request` is a job op. */
export function isJobRequest(request: Request): request is RequestOf<JobOp> {
  return request.op.startsWith("job_");
}

/** What a job request is answered with. */
export interface JobRequestContext {
  jobs: DaemonJobs;
  /** Aborted when the request is cancelled or its client leaves (ends a watch). */
  signal: AbortSignal;
  send(frame: ResponseFrame): void;
  /** Resolves when the client has read enough of what was sent. */
  backpressure(): Promise<void>;
}

/** Sends the frames that answer `request`, before its `done`; throws the `LodeError` of its `error` frame. */
export async function handleJobRequest(request: RequestOf<JobOp>, ctx: JobRequestContext): Promise<void> {
  const { jobs, send } = ctx;
  const { id } = request;
  switch (request.op) {
    case "job_submit": {
      const { record, shared } = await jobs.submit(request.kind, request.spec, request.cwd);
      send({ id, type: "job", job: record, shared });
      return;
    }
    case "job_resume":
      send({ id, type: "job", job: await jobs.resume(request.job) });
      return;
    case "job_get":
      send({ id, type: "job", job: await jobs.get(request.job) });
      return;
    case "job_cancel":
      send({ id, type: "job", job: await jobs.cancel(request.job) });
      return;
    case "job_list":
      send({ id, type: "jobs", jobs: await jobs.list() });
      return;
    case "job_watch": {
      for await (const item of jobs.watch(request.job, request.since ?? 0, ctx.signal)) {
        send(
          item.source === "job"
            ? { id, type: "job_event", seq: item.seq, event: item.event }
            : { id, type: "job_download", event: item.event },
        );
        await ctx.backpressure();
      }
      ctx.signal.throwIfAborted();
      send({ id, type: "job", job: await jobs.get(request.job) });
      return;
    }
  }
}
