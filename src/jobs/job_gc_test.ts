/**
 * `collectJobs` over a real store folder, records made through `JobRecords`: finished jobs older than the
 * threshold go with their directory and index lines; recent finished, interrupted, live (this process) and
 * kept (a batch's) jobs stay; a dry run reports the same and changes nothing; a job whose claim is held is
 * skipped.
 */
import assert from "node:assert/strict";
import { withTempDir } from "../../tests/support/temp_dir.ts";
import type { GcEvent } from "../events/store_event.ts";
import type { JobState } from "../events/job_event.ts";
import { claimJob } from "./job_claim.ts";
import { collectJobs } from "./job_gc.ts";
import { indexPath, readIndex } from "./job_index.ts";
import { planJob } from "./job_plan.ts";
import { type JobRecord, JobRecords } from "./job_record.ts";
import { parseJobSpec } from "./job_spec.ts";
import { exists } from "../store/model_store.ts";

const DAY = 86_400_000;
const plan = () => planJob(parseJobSpec("model-validate-bundle", { model: "m" }));

/** A record of this store in `state`, finished `daysAgo` days ago, with a file of its own. */
async function job(records: JobRecords, state: JobState, daysAgo: number): Promise<JobRecord> {
  const created = await records.create(plan(), "/", new Date(Date.now() - (daysAgo + 1) * DAY));
  const finished = state === "succeeded" || state === "failed" || state === "cancelled";
  const record: JobRecord = {
    ...created,
    state,
    started_at: created.created_at,
    finished_at: finished ? new Date(Date.now() - daysAgo * DAY).toISOString() : null,
    // An interrupted job: recorded running by a process that is gone.
    ...(state === "interrupted" ? { state: "running" as const, pid: 0, pid_start: "1" } : {}),
  };
  await records.write(record);
  await records.append({
    event: "job_log",
    id: record.id,
    kind: record.kind,
    at: record.created_at,
    level: "info",
    message: "hi",
  });
  await Deno.writeTextFile(`${records.jobDir(record.id)}/output.txt`, "x".repeat(5000));
  return record;
}

Deno.test("collectJobs: old finished jobs go with their index lines; recent, interrupted, live and kept ones stay", async () => {
  await withTempDir(async (root) => {
    const records = new JobRecords(root);
    const oldOk = await job(records, "succeeded", 40);
    const oldFailed = await job(records, "failed", 40);
    const oldCancelled = await job(records, "cancelled", 40);
    const recent = await job(records, "succeeded", 1);
    const interrupted = await job(records, "interrupted", 40);
    const live = await job(records, "running", 40); // this process: alive
    const ofBatch = await job(records, "succeeded", 40);
    const gone = [oldOk, oldFailed, oldCancelled].map((r) => r.id);
    const stay = [recent, interrupted, live, ofBatch].map((r) => r.id);
    assert.equal((await records.read(interrupted.id)).state, "interrupted");
    assert.equal((await records.read(live.id)).state, "running");
    const options = { olderThanMs: 30 * DAY, keep: new Set([ofBatch.id]) };
    const indexBefore = await Deno.readTextFile(indexPath(records.dir));

    const dryEvents: GcEvent[] = [];
    const dry = await collectJobs(root, { ...options, dryRun: true, onEvent: (e) => dryEvents.push(e) });
    assert.equal(dry.removed, 3);
    assert.ok(dry.bytesFreed >= 3 * 5000, "a job's own files are counted");
    assert.deepEqual(dryEvents.map((e) => e.event === "collected" && [e.kind, e.path, e.dry_run]), [
      ...gone.map((id) => ["job", records.jobDir(id), true]),
    ]);
    for (const id of [...gone, ...stay]) {
      assert.ok(await exists(records.jobDir(id)), "a dry run removes nothing");
    }
    assert.equal(await Deno.readTextFile(indexPath(records.dir)), indexBefore);
    assert.ok(!(await exists(`${records.jobDir(oldOk.id)}/claim`)), "nor creates a claim file");

    const events: GcEvent[] = [];
    const r = await collectJobs(root, { ...options, onEvent: (e) => events.push(e) });
    assert.deepEqual(r, dry);
    assert.deepEqual(events, dryEvents.map((e) => ({ ...e, dry_run: false })));
    for (const id of gone) assert.ok(!(await exists(records.jobDir(id))));
    for (const id of stay) assert.ok(await exists(records.jobDir(id)));
    assert.deepEqual(
      [...Deno.readDirSync(records.dir)].map((e) => e.name).sort(),
      [...stay, "index.ndjson"].sort(),
    );
    // The index: one line per job left, none of the removed.
    const index = readIndex(records.dir);
    assert.equal(index.lines, stay.length);
    assert.deepEqual([...index.summaries.keys()].sort(), [...stay].sort());
    assert.deepEqual((await records.list()).map((s) => s.id), [...stay].sort());

    // Nothing more to do: nothing removed, the index left as it is.
    assert.deepEqual(await collectJobs(root, options), { removed: 0, bytesFreed: 0, skippedLocked: 0 });
  });
});

Deno.test("collectJobs: a job whose claim is held is skipped; a .gc- leftover is removed; no jobs folder is no work", async () => {
  await withTempDir(async (root) => {
    assert.deepEqual(await collectJobs(root, { olderThanMs: 0 }), {
      removed: 0,
      bytesFreed: 0,
      skippedLocked: 0,
    });
    const records = new JobRecords(root);
    const held = await job(records, "succeeded", 2);
    const leftover = `${records.dir}/.gc-1234`;
    await Deno.mkdir(leftover);
    await Deno.writeTextFile(`${leftover}/record.json`, "{}");
    const events: GcEvent[] = [];
    {
      await using _claim = await claimJob(records.jobDir(held.id));
      const r = await collectJobs(root, { olderThanMs: DAY, onEvent: (e) => events.push(e) });
      assert.equal(r.removed, 1);
      assert.equal(r.skippedLocked, 1);
    }
    assert.deepEqual(
      events.map((e) =>
        e.event !== "problem" && [e.event, e.kind, e.path, e.event === "skipped" && e.reason]
      ),
      [
        ["collected", "job", leftover, false],
        ["skipped", "job", records.jobDir(held.id), "locked"],
      ],
    );
    assert.ok(!(await exists(leftover)));
    assert.equal((await records.read(held.id)).state, "succeeded");
    // Its claim released: it goes.
    assert.equal((await collectJobs(root, { olderThanMs: DAY })).removed, 1);
    assert.deepEqual(await records.list(), []);
  });
});

Deno.test("collectJobs while listings run: every listing succeeds, each job listed whole or not at all", async () => {
  await withTempDir(async (root) => {
    const records = new JobRecords(root);
    const ids = [];
    for (let i = 0; i < 40; i++) ids.push((await job(records, i % 2 ? "failed" : "succeeded", 40)).id);
    // Half the index lost: those jobs are listed from their records.
    const lines = (await Deno.readTextFile(indexPath(records.dir))).split("\n");
    await Deno.writeTextFile(indexPath(records.dir), lines.slice(0, lines.length / 2).join("\n") + "\n");
    let done = false;
    const gc = collectJobs(root, { olderThanMs: DAY }).finally(() => done = true);
    let listings = 0;
    while (!done) {
      for (const s of await records.list()) {
        assert.ok(ids.includes(s.id));
        assert.ok(s.state === "succeeded" || s.state === "failed");
      }
      listings++;
      await new Promise((r) => setTimeout(r, 0));
    }
    assert.equal((await gc).removed, 40);
    assert.ok(listings > 0);
    assert.deepEqual(await records.list(), []);
  });
});
