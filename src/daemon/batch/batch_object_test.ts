/**
 * A batch object from its record and its job's: every status, its timestamps and request counts; and the
 * cursor pages the Files and Batch APIs list with.
 */
import assert from "node:assert/strict";
import type { JobRecord } from "../../jobs/job_record.ts";
import { batchObject, WINDOW_SECONDS } from "./batch_object.ts";
import type { BatchRecord } from "./batch_store.ts";
import { listPage } from "./list_page.ts";
import { batchRecord } from "../../../tests/support/batch_record.ts";

const RECORD: BatchRecord = batchRecord({
  id: "batch_1",
  input_file_id: "file-in",
  metadata: { run: "7" },
  model: "stories260K",
  created_at: 1_000,
  total: 4,
  job_id: "job-1",
  output_file: "file-out",
  error_file: "file-err",
});

/** A usage of `input` and `output` tokens. */
function usage(input: number, output: number) {
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + output,
  };
}

function job(state: JobRecord["state"], patch: Partial<JobRecord> = {}): JobRecord {
  return {
    schema_version: 1,
    id: "job-1",
    kind: "model-batch-inference",
    plan: {} as JobRecord["plan"],
    state,
    cwd: "/store/openai",
    created_at: "1970-01-01T00:16:40.000Z",
    started_at: state === "queued" ? null : "1970-01-01T00:16:41.000Z",
    finished_at: ["succeeded", "failed", "cancelled"].includes(state) ? "1970-01-01T00:16:50.000Z" : null,
    progress: { unit: "inputs", done: 0, total: 4 },
    result: null,
    artifacts: [],
    diagnostics: [],
    error: null,
    pid: 1,
    pid_start: null,
    attempts: 1,
    ...patch,
  };
}

Deno.test("batchObject: statuses from the job's state", () => {
  const status = (record: BatchRecord, j: JobRecord | null) => batchObject(record, j).status;
  assert.equal(status({ ...RECORD, job_id: null, errors: [] }, null), "failed");
  assert.equal(status(RECORD, job("queued")), "validating");
  assert.equal(status(RECORD, null), "failed", "its job removed from the store");
  assert.equal(batchObject(RECORD, null).errors?.data[0]?.code, "JOB_NOT_FOUND");
  assert.equal(
    status(RECORD, job("running", { progress: { unit: "inputs", done: 1, total: 4 } })),
    "in_progress",
  );
  assert.equal(status(RECORD, job("interrupted")), "in_progress");
  assert.equal(
    status(RECORD, job("running", { progress: { unit: "inputs", done: 4, total: 4 } })),
    "finalizing",
  );
  assert.equal(status({ ...RECORD, cancelling_at: 1_005 }, job("running")), "cancelling");
  assert.equal(status(RECORD, job("succeeded")), "finalizing", "until its files are registered");
  assert.equal(
    status({ ...RECORD, finalized: { output: true, error: false } }, job("succeeded")),
    "completed",
  );
  assert.equal(status(RECORD, job("failed")), "failed");
  assert.equal(status({ ...RECORD, cancelling_at: 1_005 }, job("cancelled")), "cancelled");
  assert.equal(status({ ...RECORD, expired_at: 1_000 + WINDOW_SECONDS }, job("cancelled")), "expired");
});

Deno.test("batchObject: a completed batch has OpenAI's fields, its files and counts", () => {
  const done = job("succeeded", {
    result: { succeeded: 3, failed: 1, total: 4, usage: usage(30, 24) },
    progress: { unit: "inputs", done: 4, total: 4 },
  });
  assert.deepEqual(batchObject({ ...RECORD, finalized: { output: true, error: true } }, done), {
    id: "batch_1",
    object: "batch",
    endpoint: "/v1/chat/completions",
    model: "stories260K",
    errors: null,
    input_file_id: "file-in",
    completion_window: "24h",
    status: "completed",
    output_file_id: "file-out",
    error_file_id: "file-err",
    created_at: 1_000,
    in_progress_at: 1_001,
    expires_at: 1_000 + WINDOW_SECONDS,
    finalizing_at: 1_010,
    completed_at: 1_010,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: { total: 4, completed: 3, failed: 1 },
    metadata: { run: "7" },
    usage: usage(30, 24),
  });
});

Deno.test("batchObject: usage from the record once kept, else the job's result, else its progress, else zero", () => {
  const running = job("running", { progress: { unit: "inputs", done: 2, total: 4, usage: usage(10, 8) } });
  assert.deepEqual(batchObject(RECORD, running).usage, usage(10, 8));
  assert.deepEqual(batchObject(RECORD, job("queued")).usage, usage(0, 0));
  assert.deepEqual(batchObject(RECORD, null).usage, usage(0, 0));
  const kept = { ...RECORD, usage: usage(40, 32), finalized: { output: true, error: false } };
  assert.deepEqual(batchObject(kept, null).usage, usage(40, 32));
});

Deno.test("batchObject: counts while running, a refused input's errors, a failed job's error", () => {
  const running = job("running", { progress: { unit: "inputs", done: 3, total: 4, failed: 1 } });
  assert.deepEqual(batchObject(RECORD, running).request_counts, { total: 4, completed: 2, failed: 1 });
  const refused = batchObject({
    ...RECORD,
    job_id: null,
    total: 2,
    errors: [{ code: "BATCH_INVALID", message: "mixed models", param: "body.model", line: 2 }],
  }, null);
  assert.deepEqual([refused.status, refused.failed_at, refused.in_progress_at], ["failed", 1_000, null]);
  assert.deepEqual(refused.errors, {
    object: "list",
    data: [{ code: "BATCH_INVALID", message: "mixed models", param: "body.model", line: 2 }],
  });
  const failed = batchObject(
    RECORD,
    job("failed", { error: { code: "MODEL_NOT_FOUND", message: "no model named x" } }),
  );
  assert.deepEqual(failed.errors?.data, [{
    code: "MODEL_NOT_FOUND",
    message: "no model named x",
    param: null,
    line: null,
  }]);
  assert.equal(failed.failed_at, 1_010);
});

Deno.test("listPage: newest first by default, after and limit, asc; a bad limit names it", () => {
  const items = ["a", "b", "c", "d"].map((id) => ({ id }));
  const rules = { defaultLimit: 2, maxLimit: 3, defaultOrder: "desc" as const };
  const page = (q: string) => listPage(items, new URLSearchParams(q), rules);
  assert.deepEqual(page(""), {
    object: "list",
    data: [{ id: "d" }, { id: "c" }],
    first_id: "d",
    last_id: "c",
    has_more: true,
  });
  assert.deepEqual(page("after=c").data, [{ id: "b" }, { id: "a" }]);
  assert.equal(page("after=c").has_more, false);
  assert.deepEqual(page("order=asc&after=a&limit=3").data, [{ id: "b" }, { id: "c" }, { id: "d" }]);
  assert.deepEqual(page("after=a").data, []);
  assert.throws(
    () => page("limit=0"),
    (e: Error & { details?: { field?: string } }) => e.details?.field === "limit",
  );
  assert.throws(
    () => page("order=up"),
    (e: Error & { details?: { field?: string } }) => e.details?.field === "order",
  );
});
