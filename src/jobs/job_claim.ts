/**
 * The claim on a job: one process at a time runs a job. The claim is `<store>/jobs/<id>/claim`, an
 * exclusive lock on that file (`flock`, through {@link acquireFileLock}) whose content names the holder:
 * its pid, its start time (`/proc`, as {@link processStart} reads it) and when it claimed the job. A second
 * claimant fails at once with `JOB_RUNNING` naming the holder's pid. The kernel drops the lock when its
 * holder dies, even by SIGKILL, so the claim of a dead process is simply taken over (its record is returned
 * as `previous`). The claim is released when the run ends; release empties the file and keeps it (the lock
 * lives on the file's inode, which a newcomer must share).
 *
 * @example
 * ```ts
 * import { claimJob } from "./job_claim.ts";
 * await using claim = await claimJob("/srv/models/jobs/0mxcsnhnv-d4351c");
 * if (claim.previous) console.log(`pid ${claim.previous.pid} held it and is gone`);
 * ```
 * @module
 */
import { z } from "zod";
import { isLodeError, LodeError } from "../errors.ts";
import { baseName, joinPath } from "../path.ts";
import { acquireHolderLock, type HolderLock, readHolder, waitForHolder } from "../store/holder_lock.ts";
import { isFinished } from "../events/job_event.ts";
import type { JobRecord, JobRecords } from "./job_record.ts";
import { processStart } from "./process_alive.ts";

/** What a claim file says about its holder. */
export const ClaimHolder = z.object({
  pid: z.number().int().positive(),
  /** The holder's start time (`/proc/<pid>/stat`), null where it cannot be read. */
  pid_start: z.string().nullable(),
  claimed_at: z.string(),
});
export type ClaimHolder = z.infer<typeof ClaimHolder>;

/** A held claim. Dispose it (or `release`) when the run ends; dying releases it too. */
export type JobClaim = HolderLock<ClaimHolder>;

/** The claim file of the job whose directory is `jobDir`. */
export function claimPath(jobDir: string): string {
  return joinPath(jobDir, "claim");
}

/** Claims the job whose directory is `jobDir` for this process, or throws `JOB_RUNNING` naming the holder. */
export async function claimJob(jobDir: string): Promise<JobClaim> {
  const path = claimPath(jobDir);
  const id = baseName(jobDir);
  const holder: ClaimHolder = {
    pid: Deno.pid,
    pid_start: await processStart(Deno.pid),
    claimed_at: new Date().toISOString(),
  };
  try {
    return await acquireHolderLock(path, ClaimHolder, holder, { name: `job ${id}` });
  } catch (e) {
    if (!isLodeError(e, "LOCK_CONTENDED")) throw e;
    throw jobRunningError(id, await waitForHolder(path, ClaimHolder, 1000), path);
  }
}

/**
 * The holder named in the claim file at `path`, or null (no file, released, not a claim). It may name a
 * process that died: only a failed {@link claimJob} proves the holder alive.
 */
export function readClaim(path: string): Promise<ClaimHolder | null> {
  return readHolder(path, ClaimHolder);
}

/** `JOB_RUNNING`: job `id` is run by `holder` (null when its name could not be read). */
export function jobRunningError(
  id: string,
  holder: { pid: number; pid_start: string | null; claimed_at?: string } | null,
  claim?: string,
): LodeError {
  const who = holder === null ? "another lode process (pid unknown)" : `lode process ${holder.pid}`;
  return new LodeError("JOB_RUNNING", `job ${id} is being run by ${who}`, {
    details: {
      id,
      ...(claim === undefined ? {} : { claim }),
      pid: holder?.pid ?? null,
      pid_start: holder?.pid_start ?? null,
      ...(holder?.claimed_at === undefined ? {} : { claimed_at: holder.claimed_at }),
    },
  });
}

/**
 * `record` when it can resume (interrupted, of a resumable kind); else `JOB_RUNNING` (a live process runs
 * it), `JOB_FINISHED` or `JOB_NOT_RESUMABLE`.
 */
export function resumableRecord(record: JobRecord): JobRecord {
  if (record.state === "interrupted" && record.plan.resumable) return record;
  // Its process is alive (a dead one's job reads interrupted).
  if ((record.state === "running" || record.state === "queued") && record.pid !== null) {
    throw jobRunningError(record.id, { pid: record.pid, pid_start: record.pid_start });
  }
  throw new LodeError(
    isFinished(record.state) ? "JOB_FINISHED" : "JOB_NOT_RESUMABLE",
    record.state === "interrupted"
      ? `job ${record.id} (${record.kind}) cannot resume: a ${record.kind} job starts over`
      : `job ${record.id} is ${record.state}: only an interrupted job resumes`,
    { details: { id: record.id, kind: record.kind, state: record.state } },
  );
}

/**
 * Closes `record` (a job no process runs) as `cancelled`, under the job's claim so that a resume that has
 * claimed it but not yet recorded `running` is not overwritten; null when the record changed before the
 * claim was taken (cancel it as it now stands).
 */
export async function cancelStoppedJob(records: JobRecords, record: JobRecord): Promise<JobRecord | null> {
  await using _claim = await claimJob(records.jobDir(record.id));
  const now = await records.read(record.id);
  if (now.state !== record.state || now.pid !== record.pid || now.attempts !== record.attempts) return null;
  return await records.closeCancelled(now);
}
