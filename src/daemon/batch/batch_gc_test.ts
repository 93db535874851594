/**
 * `collectBatches` over a real store folder: expired files go whatever the threshold; with one, the files and
 * ended batches created longer ago go (a batch with its output and error files and their fingerprint); the
 * input, output and error files of a batch whose job has not ended stay whatever their age; a dry run
 * reports and keeps everything.
 */
import assert from "node:assert/strict";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import { JobRecords } from "../../jobs/job_record.ts";
import { planJob } from "../../jobs/job_plan.ts";
import { parseJobSpec } from "../../jobs/job_spec.ts";
import type { GcEvent } from "../../events/store_event.ts";
import { collectBatches } from "./batch_gc.ts";
import { fingerprintPath } from "./batch_fingerprint.ts";
import { type BatchRecord, BatchStore } from "./batch_store.ts";
import { batchRecord } from "../../../tests/support/batch_record.ts";
import { FileStore } from "./file_store.ts";

const DAY = 24 * 3600 * 1000;

async function file(files: FileStore, now: number, o: { expiresAfterSeconds?: number } = {}) {
  return await files.create(new Blob(["{}\n"]).stream(), {
    filename: "in.jsonl",
    purpose: "batch",
    maxBytes: 1024,
    now,
    ...o,
  });
}

function batch(now: number, input: string, jobId: string | null): BatchRecord {
  return batchRecord({ input_file_id: input, job_id: jobId }, now);
}

Deno.test("collectBatches: expired files always; old files and ended batches with a threshold; a running batch's files never", async () => {
  await withTempDir(async (root) => {
    const now = Date.now();
    const files = new FileStore(root);
    const batches = new BatchStore(root);
    const jobs = new JobRecords(root);
    const expired = await file(files, now - 2 * 3600 * 1000, { expiresAfterSeconds: 3600 });
    const fresh = await file(files, now);
    const oldLoose = await file(files, now - 10 * DAY);
    // An ended batch (its input refused: no job), ten days old, with an output file and a fingerprint: they go
    // with it.
    const oldInput = await file(files, now - 10 * DAY);
    const ended = batch(now - 10 * DAY, oldInput.id, null);
    await batches.write(ended);
    await Deno.writeTextFile(files.dataPath(ended.output_file), "{}\n");
    await files.register(ended.output_file, { filename: "o.jsonl", purpose: "batch_output", bytes: 3 });
    await Deno.writeTextFile(fingerprintPath(files.dataPath(ended.output_file)), "{}");
    // A batch whose job is queued (owned by this live process), ten days old: kept, with its input.
    const runningInput = await file(files, now - 10 * DAY, { expiresAfterSeconds: 3600 });
    const job = await jobs.create(
      planJob(parseJobSpec("model-batch-inference", { model: "m", inputs: "i", output: "o" })),
      root,
    );
    const running = batch(now - 10 * DAY, runningInput.id, job.id);
    await batches.write(running);
    await Deno.writeTextFile(files.dataPath(running.output_file), "{}\n");

    const events: GcEvent[] = [];
    const dry = await collectBatches(root, {
      olderThanMs: 7 * DAY,
      dryRun: true,
      onEvent: (e) => events.push(e),
    });
    assert.equal(dry.removed, 4);
    assert.deepEqual(
      [...dry.jobsKept],
      [job.id],
      "the running batch's job is kept; the ended batch has none",
    );
    assert.ok(events.every((e) => e.event === "collected" && e.dry_run));
    assert.equal((await files.list()).length, 6);

    // Without a threshold: only the expired file (the running batch's expired input stays).
    assert.deepEqual(await collectBatches(root, {}), {
      removed: 1,
      bytesFreed: 3,
      jobsKept: new Set([job.id]),
    });
    assert.equal(await files.has(expired.id), false);
    assert.equal(await files.has(runningInput.id), true);

    const gone: string[] = [];
    const r = await collectBatches(root, {
      olderThanMs: 7 * DAY,
      onEvent: (e) => e.event === "collected" && gone.push(`${e.kind} ${e.path.split("/").at(-1)}`),
    });
    assert.equal(r.removed, 3);
    assert.deepEqual([...r.jobsKept], [job.id]);
    assert.ok(r.bytesFreed >= 9, "the batch's output counted with it");
    assert.deepEqual(
      gone.sort(),
      [
        `batch ${ended.id}.json`,
        `file ${oldInput.id}.data`,
        `file ${oldLoose.id}.data`,
      ].sort(),
    );
    assert.deepEqual((await files.list()).map((f) => f.id).sort(), [fresh.id, runningInput.id].sort());
    assert.deepEqual((await batches.list()).map((b) => b.id), [running.id]);
    await assert.rejects(Deno.stat(fingerprintPath(files.dataPath(ended.output_file))), Deno.errors.NotFound);
    assert.equal((await Deno.stat(files.dataPath(running.output_file))).isFile, true);
  });
});
