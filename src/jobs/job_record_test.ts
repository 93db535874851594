import assert from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";
import { JobRecords, newJobId } from "./job_record.ts";
import { summaryOf } from "./job_index.ts";
import { parseJobSpec } from "./job_spec.ts";
import { planJob } from "./job_plan.ts";
import { processAlive, processStart } from "./process_alive.ts";

const plan = () => planJob(parseJobSpec("model-validate-bundle", { model: "m" }));

Deno.test("a record: written under jobs/<id>/record.json, read back, listed oldest first", async () => {
  await withTempDir(async (dir) => {
    const records = new JobRecords(dir);
    const a = await records.create(plan(), dir, new Date(1_000));
    const b = await records.create(plan(), dir, new Date(2_000));
    assert.equal(a.state, "queued");
    assert.equal(a.pid, Deno.pid);
    assert.ok((await Deno.stat(`${dir}/jobs/${a.id}/record.json`)).isFile);
    assert.deepEqual(await records.read(a.id), a);
    assert.deepEqual((await records.list()).map((r) => r.id), [a.id, b.id]);
    // No temporary file is left beside the record.
    assert.deepEqual([...Deno.readDirSync(`${dir}/jobs/${a.id}`)].map((e) => e.name), ["record.json"]);
  });
});

Deno.test("a queued or running record whose process is gone reads as interrupted", async () => {
  await withTempDir(async (dir) => {
    const records = new JobRecords(dir);
    const r = await records.create(plan(), dir);
    await records.write({ ...r, state: "running", pid: 0, pid_start: "1" });
    assert.equal((await records.read(r.id)).state, "interrupted");
    // This process, but a start time that is not its own: a reused pid.
    await records.write({ ...r, state: "running", pid: Deno.pid, pid_start: "1" });
    assert.equal((await records.read(r.id)).state, "interrupted");
    await records.write({ ...r, state: "succeeded", pid: 0 });
    assert.equal((await records.read(r.id)).state, "succeeded");
  });
});

Deno.test("an unknown id, or one that is not an id, is JOB_NOT_FOUND (exit 3)", async () => {
  await withTempDir(async (dir) => {
    const records = new JobRecords(dir);
    for (const id of ["nope", "../manifests", ""]) {
      await assert.rejects(records.read(id), (e) => {
        assert.ok(isLodeError(e, "JOB_NOT_FOUND"));
        assert.equal(e.exitCode, 3);
        return true;
      });
    }
    assert.deepEqual(await records.list(), []);
  });
});

Deno.test("a broken record is left out of the list", async () => {
  await withTempDir(async (dir) => {
    const records = new JobRecords(dir);
    const r = await records.create(plan(), dir);
    await Deno.mkdir(`${dir}/jobs/zzz-broken`);
    await Deno.writeTextFile(`${dir}/jobs/zzz-broken/record.json`, "{");
    assert.deepEqual((await records.list()).map((x) => x.id), [r.id]);
  });
});

Deno.test("ids sort by time", () => {
  assert.ok(newJobId(1_000) < newJobId(2_000));
  assert.match(newJobId(), /^[0-9a-z]{9}-[0-9a-f]{6}$/);
});

Deno.test("this process is alive; pid 0 is not", async () => {
  assert.equal(await processAlive(Deno.pid, await processStart(Deno.pid)), true);
  assert.equal(await processAlive(0, null), false);
});

Deno.test("the index: ls reads it; a job it lacks or shows unfinished is read from its record; compacted", async () => {
  await withTempDir(async (dir) => {
    const records = new JobRecords(dir);
    const done = [];
    for (let i = 0; i < 40; i++) {
      const r = await records.create(plan(), dir, new Date(1_000 + i));
      for (let j = 0; j < 3; j++) await records.write({ ...r, state: "running" });
      done.push({ ...r, state: "succeeded" as const, pid: null });
      await records.write(done.at(-1)!);
    }
    const index = `${dir}/jobs/index.ndjson`;
    assert.equal((await Deno.readTextFile(index)).trim().split("\n").length, 200);
    assert.deepEqual(await records.list(), done.map(summaryOf));
    // Compacted: one line per job.
    assert.equal((await Deno.readTextFile(index)).trim().split("\n").length, 40);
    // A lost index, or a stale line: the records stand.
    await Deno.remove(index);
    assert.deepEqual(await records.list(), done.map(summaryOf));
    await Deno.writeTextFile(index, JSON.stringify({ ...summaryOf(done[0]!), state: "running" }) + "\n{torn");
    assert.deepEqual(await records.list(), done.map(summaryOf));
  });
});
