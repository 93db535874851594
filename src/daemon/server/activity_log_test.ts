import assert from "node:assert/strict";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import { ActivityLog, type ActivityRecord, activityRecord } from "./activity_log.ts";

const record = (i: number, extra: Partial<ActivityRecord> = {}): ActivityRecord => ({
  time: "2026-01-01T00:00:00.000Z",
  request_id: `r${i}`,
  client: 1,
  op: "generate",
  model: "stories260K",
  outcome: "ok",
  duration_ms: 1.5,
  ...extra,
});

const lines = async (path: string) =>
  (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));

Deno.test("records are appended as NDJSON; prompts and outputs only with logPrompts", async () => {
  await withTempDir(async (dir) => {
    const log = await ActivityLog.open(`${dir}/logs/activity.ndjson`);
    log.write(record(1, { prompt: "secret", output: "story", messages: [{ role: "user", content: "x" }] }));
    log.write(record(2, { code: "CANCELLED", outcome: "error" }));
    await log.close();
    const got = await lines(`${dir}/logs/activity.ndjson`);
    assert.deepEqual(got, [record(1), record(2, { code: "CANCELLED", outcome: "error" })]);
    assert.equal((await Deno.stat(`${dir}/logs/activity.ndjson`)).mode! & 0o777, 0o600);

    const verbose = await ActivityLog.open(`${dir}/v.ndjson`, { logPrompts: true });
    verbose.write(record(3, { prompt: "Once", output: " upon" }));
    await verbose.close();
    assert.deepEqual(await lines(`${dir}/v.ndjson`), [record(3, { prompt: "Once", output: " upon" })]);

    // Reopening appends.
    const again = await ActivityLog.open(`${dir}/v.ndjson`);
    again.write(record(4));
    await again.close();
    assert.equal((await lines(`${dir}/v.ndjson`)).length, 2);
  });
});

Deno.test("rotation by size keeps N files, newest first, and loses no record", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/a.ndjson`;
    const size = new TextEncoder().encode(JSON.stringify(record(10)) + "\n").length;
    const log = await ActivityLog.open(path, { maxBytes: size * 3, keep: 2 });
    for (let i = 10; i < 22; i++) {
      log.write(record(i));
      await log.flush(); // one record per write, so rotation points are exact
    }
    await log.close();
    const ids = async (p: string) => (await lines(p)).map((r) => r.request_id);
    assert.deepEqual(await ids(path), ["r19", "r20", "r21"]);
    assert.deepEqual(await ids(`${path}.1`), ["r16", "r17", "r18"]);
    assert.deepEqual(await ids(`${path}.2`), ["r13", "r14", "r15"]);
    await assert.rejects(Deno.stat(`${path}.3`), Deno.errors.NotFound);
  });
});

Deno.test("writing never waits: a burst goes out in one write; beyond the bound records are dropped and reported once", async () => {
  await withTempDir(async (dir) => {
    const errors: string[] = [];
    const log = await ActivityLog.open(`${dir}/b.ndjson`, {
      maxPendingRecords: 5,
      onError: (m) => errors.push(m),
    });
    for (let i = 0; i < 8; i++) log.write(record(i));
    // The writes returned before any I/O: five records wait, the three beyond the bound are dropped at once.
    assert.equal(log.written, 0);
    assert.equal(log.dropped, 3);
    await log.close();
    assert.equal(log.written, 5);
    assert.equal(log.dropped, 3);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /dropped/);
  });
});

Deno.test("records wait up to flushMs and go out together, with no flush asked", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/f.ndjson`;
    const log = await ActivityLog.open(path, { flushMs: 100 });
    for (let i = 0; i < 3; i++) log.write(record(i));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await Deno.stat(path)).size, 0, "still waiting for its companions");
    const deadline = Date.now() + 30_000;
    while (log.written < 3) {
      assert.ok(Date.now() < deadline, "written after flushMs");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual((await lines(path)).map((r) => r.request_id), ["r0", "r1", "r2"]);
    log.write(record(3));
    await log.close(); // close writes what waits at once
    assert.equal((await lines(path)).length, 4);
  });
});

Deno.test("a failing write is reported once and does not throw", async () => {
  await withTempDir(async (dir) => {
    const errors: string[] = [];
    const log = await ActivityLog.open(`${dir}/c.ndjson`, { onError: (m) => errors.push(m), maxBytes: 10 });
    log.write(record(1));
    await log.flush();
    // The directory goes away: rotation (rename, reopen) fails from now on.
    await Deno.remove(dir, { recursive: true });
    log.write(record(2));
    await log.flush();
    log.write(record(3));
    await log.flush();
    await log.close();
    await Deno.mkdir(dir);
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0]!, /cannot write/);
    assert.equal(log.dropped, 2);
  });
});

Deno.test("activityRecord: the request's op and model under the handler's fields, outcome error unless told", () => {
  const received = performance.now() - 5;
  const ok = activityRecord({ op: "tokenize", model: "m" }, {
    requestId: "t1",
    client: 3,
    received,
    now: Date.UTC(2026, 4, 18),
    fields: { outcome: "ok", count: 2 },
  });
  assert.equal(ok.time, "2026-05-18T00:00:00.000Z");
  assert.deepEqual({ ...ok, duration_ms: 0 }, {
    time: ok.time,
    request_id: "t1",
    client: 3,
    op: "tokenize",
    model: "m",
    outcome: "ok",
    count: 2,
    duration_ms: 0,
  });
  assert.ok(ok.duration_ms >= 5);
  // The time of each millisecond, formatted once and reused, is still that millisecond's.
  for (
    const now of [Date.UTC(2026, 4, 18), Date.UTC(2026, 4, 18) + 1, Date.UTC(2026, 4, 18) + 1, 0, 1.7e12]
  ) {
    const r = activityRecord({ op: "tokenize" }, { requestId: "t", client: 1, received, now, fields: {} });
    assert.equal(r.time, new Date(now).toISOString());
  }
  const refused = activityRecord({ op: "health" }, { requestId: "h", client: 1, received, fields: {} });
  assert.equal(refused.outcome, "error");
  assert.equal("model" in refused, false);
});
