/**
 * `lode gc` through the real CLI, racing a real `lode pull` in another process
 * (stalled mid-download by the test origin): its partial and lock are left alone.
 */
import assert from "node:assert/strict";
import { makeTestCa } from "./support/test_ca.ts";
import { startOrigin } from "./support/origin.ts";
import { finish, listTree, runLode, spawnLode, storeEvents } from "./support/lode_cli.ts";
import { batchRecord } from "./support/batch_record.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;
const SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const BYTES = await Deno.readFile(FIXTURE);

Deno.test("gc skips the partial of a running pull, then the pull completes; text and --json reports", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-gc-cli-" });
  const ca = await makeTestCa(`${dir}/ca`);
  // The pull stalls mid-body until the gc runs are done (60 s at most).
  const { promise: gcDone, resolve: releasePull } = Promise.withResolvers<void>();
  const origin = await startOrigin({
    tls: ca,
    routes: {
      "/m.gguf": { body: BYTES, fault: { kind: "stall", afterBytes: 500_000, ms: 60_000, release: gcDone } },
    },
  });
  const store = `${dir}/store`;
  const lode = (...args: string[]) => runLode(args, { store });
  try {
    // An orphan blob to collect: imported, then its manifest removed.
    await Deno.writeFile(`${dir}/other.bin`, new Uint8Array(70_000).fill(3));
    assert.equal((await lode("import", `${dir}/other.bin`, "--name", "other", "--format", "bin")).code, 0);
    await Deno.remove(`${store}/manifests/other.json`);
    const pull = spawnLode([
      "--ca-cert",
      ca.caCertPath,
      "pull",
      `${origin.url}/m.gguf#sha256=${SHA}`,
      "--json",
    ], {
      store,
    });
    const partial = `${store}/blobs/sha256/27/.partial-${SHA}`;
    const deadline = Date.now() + 20_000;
    while (!(await Deno.stat(`${partial}/data.tmp`).then(() => true, () => false))) {
      assert.ok(Date.now() < deadline, "the pull never started writing");
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300));
    // Even a threshold of 0 does not touch a partial whose pull holds its lock.
    const dry = await lode("gc", "--older-than", "0s", "--dry-run", "--json");
    assert.equal(dry.code, 0, dry.stderr);
    const gc = await lode("gc", "--older-than", "0s", "--json");
    assert.equal(gc.code, 0, gc.stderr);
    for (const r of [dry, gc]) {
      assert.deepEqual(storeEvents(r.stdout).map((e) => e.event), ["collected", "skipped", "gc_done"]);
      const skipped = r.events.filter((e) => e.event === "skipped");
      assert.deepEqual(skipped.map((e) => [e.kind, e.path, e.reason]), [["partial", partial, "locked"]]);
      const collected = r.events.filter((e) => e.event === "collected");
      assert.equal(collected.length, 1);
      assert.equal(collected[0]!.kind, "blob");
      const done = r.events.at(-1)!;
      assert.equal(done.event, "gc_done");
      assert.equal(done.removed, 1);
      assert.equal(done.bytes_freed, collected[0]!.bytes);
      assert.equal(done.skipped_locked, 1);
    }
    releasePull();
    assert.equal((await finish(pull)).code, 0, "the pull finishes undisturbed");
    assert.deepEqual(await Deno.readFile(`${store}/blobs/sha256/27/${SHA}/data`), BYTES);
    const text = await lode("gc");
    assert.equal(text.code, 0);
    assert.equal(text.stdout, "freed 0 B (0 items)\n");
    assert.ok(!(await listTree(`${store}/blobs`)).some((p) => p.includes(".partial-")));
    const bad = await lode("gc", "--older-than", "soon");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /error\[USAGE\]: "soon" is not a duration/);
  } finally {
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gc --batches-older-than removes the Batch API's old files and ended batches; without it they stay", async () => {
  const { FileStore } = await import("../src/daemon/batch/file_store.ts");
  const store = await Deno.makeTempDir({ prefix: "lode-gc-batches-" });
  try {
    const files = new FileStore(store);
    const create = (now: number) =>
      files.create(new Blob(['{"custom_id":"a"}\n']).stream(), {
        filename: "in.jsonl",
        purpose: "batch",
        maxBytes: 1024,
        now,
      });
    const old = await create(Date.now() - 10 * 86_400_000);
    const recent = await create(Date.now());
    const kept = await runLode(["gc", "--json"], { store });
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal(await files.has(old.id), true, "kept without --batches-older-than");
    const bad = await runLode(["gc", "--batches-older-than", "soon"], { store });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /USAGE.*not a duration/);
    const r = await runLode(["gc", "--batches-older-than", "7d", "--json"], { store });
    assert.equal(r.code, 0, r.stderr);
    const events = storeEvents(r.stdout);
    const collected = events.filter((e) => e.event === "collected");
    assert.deepEqual(collected.map((e) => [e.kind, e.path]), [["file", files.dataPath(old.id)]]);
    const done = events.at(-1)!;
    assert.equal(done.event, "gc_done");
    assert.equal(done.batches_older_than_ms, 7 * 86_400_000);
    assert.deepEqual((await files.list()).map((f) => f.id), [recent.id]);
  } finally {
    await Deno.remove(store, { recursive: true });
  }
});

Deno.test("gc --jobs-older-than removes old finished jobs and their index lines; lode job ls no longer lists them", async () => {
  const { JobRecords } = await import("../src/jobs/job_record.ts");
  const { planJob } = await import("../src/jobs/job_plan.ts");
  const { parseJobSpec } = await import("../src/jobs/job_spec.ts");
  const { BatchStore } = await import("../src/daemon/batch/batch_store.ts");
  const store = await Deno.makeTempDir({ prefix: "lode-gc-jobs-" });
  const DAY = 86_400_000;
  try {
    const records = new JobRecords(store);
    const job = async (state: "succeeded" | "failed" | "cancelled" | "running", daysAgo: number) => {
      const at = new Date(Date.now() - daysAgo * DAY);
      const created = await records.create(
        planJob(parseJobSpec("model-validate-bundle", { model: "m" })),
        store,
        at,
      );
      // "running" from a process that is gone: interrupted.
      const dead = state === "running" ? { pid: 0, pid_start: "1" } : {};
      const record = {
        ...created,
        ...dead,
        state,
        finished_at: state === "running" ? null : at.toISOString(),
      };
      await records.write(record);
      await Deno.writeTextFile(`${records.jobDir(record.id)}/output.txt`, "x".repeat(3000));
      return record.id;
    };
    const old = [await job("succeeded", 40), await job("failed", 35), await job("cancelled", 31)];
    const recent = await job("succeeded", 2);
    const interrupted = await job("running", 40);
    // An old finished job a Batch API batch still names: kept with the batch.
    const ofBatch = await job("succeeded", 40);
    await new BatchStore(store).write(batchRecord({ job_id: ofBatch }));
    const all = [...old, recent, interrupted, ofBatch].sort();
    const listed = async () => {
      const ls = await runLode(["job", "ls", "--json"], { store });
      assert.equal(ls.code, 0, ls.stderr);
      return ls.events.map((e) => e.id as string).sort();
    };
    assert.deepEqual(await listed(), all);

    const plain = await runLode(["gc", "--json"], { store });
    assert.equal(plain.code, 0, plain.stderr);
    assert.ok(
      !storeEvents(plain.stdout).some((e) => e.event === "collected"),
      "no job goes without the flag",
    );
    assert.equal(
      storeEvents(plain.stdout).at(-1)!.event === "gc_done" && plain.events.at(-1)!.jobs_older_than_ms,
      null,
    );
    const bad = await runLode(["gc", "--jobs-older-than", "a month"], { store });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /error\[USAGE\]: "a month" is not a duration/);

    const index = await Deno.readTextFile(`${store}/jobs/index.ndjson`);
    const dry = await runLode(["gc", "--jobs-older-than", "30d", "--dry-run", "--json"], { store });
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(await Deno.readTextFile(`${store}/jobs/index.ndjson`), index, "a dry run changes nothing");
    assert.deepEqual(await listed(), all);
    const real = await runLode(["gc", "--jobs-older-than", "30d", "--json"], { store });
    assert.equal(real.code, 0, real.stderr);
    for (const [r, dryRun] of [[dry, true], [real, false]] as const) {
      const events = storeEvents(r.stdout);
      const collected = events.filter((e) => e.event === "collected");
      assert.deepEqual(
        collected.map((e) => [e.kind, e.path, e.dry_run]),
        old.map((id) => ["job", `${store}/jobs/${id}`, dryRun]),
      );
      assert.ok(collected.every((e) => e.bytes >= 3000));
      const done = events.at(-1)!;
      assert.ok(done.event === "gc_done");
      assert.equal(done.removed, 3);
      assert.equal(done.jobs_removed, 3);
      assert.equal(done.jobs_older_than_ms, 30 * DAY);
      assert.equal(done.bytes_freed, collected.reduce((n, e) => n + e.bytes, 0));
    }
    const kept = [recent, interrupted, ofBatch].sort();
    assert.deepEqual(await listed(), kept);
    // The index: compact, one line per job left.
    const lines = (await Deno.readTextFile(`${store}/jobs/index.ndjson`)).trim().split("\n");
    assert.deepEqual(lines.map((l) => JSON.parse(l).id).sort(), kept);
    assert.deepEqual(
      [...Deno.readDirSync(`${store}/jobs`)].map((e) => e.name).sort(),
      [...kept, "index.ndjson"].sort(),
    );

    const text = await runLode(["gc", "--jobs-older-than", "1d", "--dry-run"], { store });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^would free .* \(1 item\); 1 job record would be removed\n$/);
    assert.match(text.stderr, new RegExp(`would remove +job .* ${store}/jobs/${recent}\\n`));
    const gone = await runLode(["job", "show", old[0]!], { store });
    assert.match(gone.stderr, /JOB_NOT_FOUND/);
  } finally {
    await Deno.remove(store, { recursive: true });
  }
});
