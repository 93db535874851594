/**
 * A Batch API batch record for tests that need one on disk (`BatchStore.write`): a chat batch of one request,
 * created `now`, not cancelled, expired nor finalized, with the fields given replacing the defaults.
 *
 * @example
 * ```ts
 * import { batchRecord } from "./batch_record.ts";
 * const record = batchRecord({ job_id: "0mxcsnhnv-d4351c" });
 * record.total; // 1
 * ```
 * @module
 */
import type { BatchRecord } from "../../src/daemon/batch/batch_store.ts";
import { newBatchId } from "../../src/daemon/batch/batch_store.ts";
import { newFileId } from "../../src/daemon/batch/file_store.ts";

/** A batch record created at `now` (Unix milliseconds, default now), `fields` replacing the defaults. */
export function batchRecord(fields: Partial<BatchRecord> = {}, now = Date.now()): BatchRecord {
  return {
    id: newBatchId(now),
    input_file_id: newFileId(now),
    endpoint: "/v1/chat/completions",
    completion_window: "24h",
    metadata: null,
    model: "m",
    created_at: Math.floor(now / 1000),
    total: 1,
    job_id: null,
    output_file: newFileId(now),
    error_file: newFileId(now),
    errors: null,
    cancelling_at: null,
    expired_at: null,
    finalized: null,
    usage: null,
    output_expires_after_seconds: null,
    ...fields,
  };
}
