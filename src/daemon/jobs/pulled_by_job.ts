/**
 * What a download job the daemon ran for a request's load gives the model provider: the model's name and
 * file in the store, or the job's error (the typed one when this daemon ran it).
 * @module
 */
import { ERROR_CODES, type ErrorCode, LodeError } from "../../errors.ts";
import type { JobRecord } from "../../jobs/job_record.ts";

/** What {@link DaemonJobs.pull} gives the model provider: the model's name and file in the store. */
export interface PulledByJob {
  id: string;
  name: string;
  path: string;
  cached: boolean;
  sizeBytes: number;
}

/** What a finished download job gives the provider, or its error (the typed one when this daemon ran it). */
export function pulledOf(record: JobRecord, error: LodeError | null): PulledByJob {
  if (record.state !== "succeeded") {
    if (error !== null) throw error;
    const e = record.error ?? { code: "INTERNAL", message: `job ${record.id} ended ${record.state}` };
    throw new LodeError(e.code in ERROR_CODES ? e.code as ErrorCode : "INTERNAL", e.message, {
      details: { id: record.id, state: record.state },
      ...(e.hint ? { hint: e.hint } : {}),
    });
  }
  const result = record.result as { name: string; path: string; cached: boolean; sizeBytes: number };
  return {
    id: record.id,
    name: result.name,
    path: result.path,
    cached: result.cached,
    sizeBytes: result.sizeBytes,
  };
}
