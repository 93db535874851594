/**
 * The job ops from a client's side (docs/protocol.md, "Jobs"): submit, get, list, watch, cancel and
 * resume jobs in a daemon over a {@link DaemonClient}. An `error` frame rejects with its `LodeError`.
 *
 * @example
 * ```ts
 * import { DaemonClient } from "./client.ts";
 * import { submitJob, watchJob } from "./job_client.ts";
 * const client = await DaemonClient.connect("/run/user/1000/lode/lode.sock");
 * const { job } = await submitJob(client, "model-download", { ref: "hf:Qwen/Qwen3-0.6B-GGUF:Q8_0" });
 * const done = await watchJob(client, job.id, { onItem: (f) => console.log(f.type) });
 * console.log(done.state);
 * client.close();
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { JobSummary } from "../../jobs/job_index.ts";
import type { JobRecord } from "../../jobs/job_record.ts";
import type { DaemonClient, RequestBody } from "./client.ts";
import type { FrameOf } from "./protocol.ts";

/** A watched job's frames, in order. */
export type WatchFrame = FrameOf<"job_event"> | FrameOf<"job_download">;

/** Sends `body` and returns the record of its `job` frame. */
async function jobFrame(client: DaemonClient, body: RequestBody): Promise<FrameOf<"job">> {
  let frame: FrameOf<"job"> | undefined;
  await client.request(body, { onFrame: (f) => f.type === "job" && (frame = f) });
  if (frame === undefined) {
    throw new LodeError("INTERNAL", `the daemon answered ${body.op} without a job frame`);
  }
  return frame;
}

/** Starts a job of `kind` in the daemon (or joins the one doing the same: `shared`). */
export async function submitJob(
  client: DaemonClient,
  kind: string,
  spec: Record<string, unknown>,
  cwd: string = Deno.cwd(),
): Promise<{ job: JobRecord; shared: boolean }> {
  const frame = await jobFrame(client, { op: "job_submit", kind, spec, cwd });
  return { job: frame.job, shared: frame.shared === true };
}

/** Job `id` as the daemon sees it. */
export async function getJob(client: DaemonClient, id: string): Promise<JobRecord> {
  return (await jobFrame(client, { op: "job_get", job: id })).job;
}

/** Cancels job `id`; resolves with its final record. */
export async function cancelJob(client: DaemonClient, id: string): Promise<JobRecord> {
  return (await jobFrame(client, { op: "job_cancel", job: id })).job;
}

/** Runs interrupted job `id` again in the daemon. */
export async function resumeJob(client: DaemonClient, id: string): Promise<JobRecord> {
  return (await jobFrame(client, { op: "job_resume", job: id })).job;
}

/** Every job of the daemon's store. */
export async function listJobs(client: DaemonClient): Promise<JobSummary[]> {
  let jobs: JobSummary[] = [];
  await client.request({ op: "job_list" }, { onFrame: (f) => f.type === "jobs" && (jobs = f.jobs) });
  return jobs;
}

/**
 * Follows job `id` from after event `since` to its end, giving each frame to `onItem`; resolves with its
 * final record. Aborting `signal` stops watching (the job goes on).
 */
export async function watchJob(
  client: DaemonClient,
  id: string,
  options: { since?: number; onItem?: (frame: WatchFrame) => void; signal?: AbortSignal } = {},
): Promise<JobRecord> {
  let record: JobRecord | undefined;
  await client.request({ op: "job_watch", job: id, ...(options.since ? { since: options.since } : {}) }, {
    onFrame: (f) => {
      if (f.type === "job") record = f.job;
      else if (f.type === "job_event" || f.type === "job_download") options.onItem?.(f);
    },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (record === undefined) {
    throw new LodeError("INTERNAL", "the daemon ended a job watch without the job's record");
  }
  return record;
}
