/**
 * A batch as OpenAI's Batch API answers it (`object: "batch"`), from its record (batch_store.ts) and the
 * record of the `model-batch-inference` job that runs it. Statuses from the job's state:
 *
 * | job                                      | batch         |
 * | ---------------------------------------- | ------------- |
 * | none (the input was refused, or removed) | `failed`      |
 * | `queued`                                 | `validating`  |
 * | `running`, `interrupted` (resumed next)  | `in_progress` |
 * | … every request answered, not yet ended  | `finalizing`  |
 * | … a cancel asked for                     | `cancelling`  |
 * | `succeeded`                              | `completed`   |
 * | `failed`                                 | `failed`      |
 * | `cancelled`                              | `cancelled`   |
 * | `cancelled` by its 24 h window           | `expired`     |
 *
 * Timestamps are Unix seconds, null until they happen; `request_counts` and `usage` come from the job's
 * result once it ended and from its progress while it runs (`usage` from the batch's record once it has it).
 *
 * @example
 * ```ts
 * import { batchObject } from "./batch_object.ts";
 * import type { BatchRecord } from "./batch_store.ts";
 * const record: BatchRecord = {
 *   id: "batch_1", input_file_id: "file-1", endpoint: "/v1/chat/completions", completion_window: "24h",
 *   metadata: null, model: "m", created_at: 0, total: 0, job_id: null, output_file: "file-2",
 *   error_file: "file-3", errors: [{ code: "empty_file", message: "the file is empty", param: null, line: null }],
 *   cancelling_at: null, expired_at: null, finalized: null, usage: null, output_expires_after_seconds: null,
 * };
 * batchObject(record, null).status; // "failed"
 * ```
 * @module
 */
import type { JobRecord } from "../../jobs/job_record.ts";
import type { BatchError, BatchRecord } from "./batch_store.ts";
import { type BatchUsage, noUsage } from "./batch_usage.ts";

/** The batch's 24 h window, in seconds. */
export const WINDOW_SECONDS = 24 * 60 * 60;

/** OpenAI's batch statuses. */
export type BatchStatus =
  | "validating"
  | "failed"
  | "in_progress"
  | "finalizing"
  | "completed"
  | "expired"
  | "cancelling"
  | "cancelled";

/** The request counts of a batch. */
export interface RequestCounts {
  total: number;
  completed: number;
  failed: number;
}

/** OpenAI's batch object. */
export interface BatchObject {
  id: string;
  object: "batch";
  endpoint: string;
  model: string | null;
  errors: { object: "list"; data: BatchError[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: RequestCounts;
  metadata: Record<string, string> | null;
  /** Tokens of the requests answered with success (zero before any). */
  usage: BatchUsage;
}

/** The status of a batch whose job is `job` (null: none was submitted). */
export function batchStatus(record: BatchRecord, job: JobRecord | null): BatchStatus {
  if (job === null) return record.errors === null && record.job_id === null ? "validating" : "failed";
  switch (job.state) {
    case "succeeded":
      return record.finalized === null ? "finalizing" : "completed";
    case "failed":
      return "failed";
    case "cancelled":
      return record.expired_at !== null ? "expired" : "cancelled";
    case "queued":
      return record.cancelling_at !== null ? "cancelling" : "validating";
    case "running":
    case "interrupted": {
      if (record.cancelling_at !== null || record.expired_at !== null) return "cancelling";
      const { done, total } = job.progress;
      return total !== null && total > 0 && done >= total ? "finalizing" : "in_progress";
    }
  }
}

/**
 * The request counts: the job's result (the batch summary's `succeeded` and `failed`) once it ended; while
 * it runs its progress (`done`, of which `failed` failed).
 */
export function requestCounts(record: BatchRecord, job: JobRecord | null): RequestCounts {
  const total = record.total;
  if (job === null) return { total, completed: 0, failed: 0 };
  const result = job.result as { succeeded?: unknown; failed?: unknown } | null;
  if (result !== null && typeof result === "object" && typeof result.succeeded === "number") {
    return {
      total,
      completed: result.succeeded,
      failed: typeof result.failed === "number" ? result.failed : 0,
    };
  }
  const done = Math.min(job.progress.done, total);
  const failed = Math.min(job.progress.failed ?? 0, done);
  return { total, completed: done - failed, failed };
}

/** The batch object of `record` whose job is `job` (null: none was submitted). */
export function batchObject(record: BatchRecord, job: JobRecord | null): BatchObject {
  const status = batchStatus(record, job);
  const started = seconds(job?.started_at ?? null);
  const ended = seconds(job?.finished_at ?? null);
  const errors = record.errors ?? jobErrors(record, job);
  return {
    id: record.id,
    object: "batch",
    endpoint: record.endpoint,
    model: record.model,
    errors: errors === null ? null : { object: "list", data: errors },
    input_file_id: record.input_file_id,
    completion_window: record.completion_window,
    status,
    output_file_id: record.finalized?.output ? record.output_file : null,
    error_file_id: record.finalized?.error ? record.error_file : null,
    created_at: record.created_at,
    in_progress_at: started,
    expires_at: record.created_at + WINDOW_SECONDS,
    finalizing_at: status === "completed" ? ended : null,
    completed_at: status === "completed" ? ended : null,
    failed_at: status === "failed" ? (ended ?? record.created_at) : null,
    expired_at: status === "expired" ? record.expired_at : null,
    cancelling_at: record.cancelling_at ?? (status === "expired" ? record.expired_at : null),
    cancelled_at: status === "cancelled" || status === "expired" ? ended : null,
    request_counts: requestCounts(record, job),
    metadata: record.metadata,
    usage: batchUsage(record, job),
  };
}

/** The tokens of the batch's answered requests: its record's once it ended, else its job's result or progress. */
export function batchUsage(record: BatchRecord, job: JobRecord | null): BatchUsage {
  if (record.usage !== null) return record.usage;
  const result = (job?.result ?? null) as { usage?: BatchUsage } | null;
  return result?.usage ?? job?.progress.usage ?? noUsage();
}

/**
 * A failed job's error as a batch's `errors`: each problem of a `BATCH_INVALID` (its line, field and
 * message, when the record keeps them), else the error itself.
 */
function jobErrors(record: BatchRecord, job: JobRecord | null): BatchError[] | null {
  if (job === null && record.job_id !== null) {
    const message = `the job ${record.job_id} that ran this batch is gone from the store`;
    return [{ code: "JOB_NOT_FOUND", message, param: null, line: null }];
  }
  if (job === null || job.state !== "failed" || job.error === null) return null;
  const problems = (job.result as { problems?: unknown } | null)?.problems;
  if (Array.isArray(problems) && problems.length > 0) {
    return problems.map((p: { line?: unknown; field?: unknown; message?: unknown }) => ({
      code: job.error!.code,
      message: typeof p.message === "string" ? p.message : job.error!.message,
      param: typeof p.field === "string" ? p.field : null,
      line: typeof p.line === "number" ? p.line : null,
    }));
  }
  return [{ code: job.error.code, message: job.error.message, param: null, line: null }];
}

function seconds(iso: string | null): number | null {
  if (iso === null) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}
