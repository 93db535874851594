/**
 * Resuming a download job, through real CLI processes against a real HTTPS origin on loopback: a
 * `lode job run` SIGKILLed mid-download while the origin is throttled, then `lode job resume ID`. The
 * resume asks only for the bytes the partial lacks (the origin served at most one part per connection
 * twice), and two resumes at once do not both run the job: the second fails with `JOB_RUNNING` naming
 * the first's pid (whether it finds the job's claim held or its record `running`).
 */
import assert from "node:assert/strict";
import { readResumeState, type ResumeState } from "../src/download/resume_state.ts";
import { claimJob, claimPath, readClaim } from "../src/jobs/job_claim.ts";
import { JobRecord } from "../src/jobs/job_record.ts";
import type { BodyRoute, Route } from "./support/origin.ts";
import { finish, parseEvents, runLode, spawnLode } from "./support/lode_cli.ts";
import {
  type EngineWorld,
  getsOf,
  randomModel,
  rangeBytes,
  rangeOf,
  sha256,
  sleep,
  withEngine,
} from "./support/engine_world.ts";

const BIG = randomModel(24 * 1024 * 1024);
const BIG_SHA = sha256(BIG);
/** The CLI's part size for 24 MiB on 2 connections. */
const PART_BYTES = 4 * 1024 * 1024;

const jobOf = (events: Record<string, unknown>[]) =>
  JobRecord.parse(events.findLast((e) => e.event === "job"));
const doneBytes = (s: ResumeState) => s.parts.reduce((sum, p) => sum + p.done, 0);

/** The origin's route: throttled (every response pauses 600 ms after its first MiB) while `throttle.on`. */
function route(throttle: { on: boolean }): Route {
  const clean: BodyRoute = { body: BIG, etag: '"big"' };
  const throttled: BodyRoute = { ...clean, fault: { kind: "stall", afterBytes: 1024 * 1024, ms: 600 } };
  return { handler: () => (throttle.on ? throttled : clean) };
}

/**
 * Runs a model-download job and SIGKILLs its process right after its sidecar recorded two finished parts;
 * returns the job's id and the bytes the sidecar holds.
 */
async function interruptedJob(w: EngineWorld): Promise<{ id: string; saved: number; ref: string }> {
  const ref = `${w.origin.url}/big.gguf#sha256=${BIG_SHA}`;
  const partial = `${w.store}/blobs/sha256/${BIG_SHA.slice(0, 2)}/.partial-${BIG_SHA}`;
  const child = spawnLode(
    [
      "--ca-cert",
      w.ca.caCertPath,
      "--connections",
      "2",
      "job",
      "run",
      "model-download",
      "--spec",
      JSON.stringify({
        ref,
      }),
    ],
    { store: w.store },
  );
  let lastUpdate = "";
  while (true) {
    const state = await readResumeState(partial);
    const complete = state?.parts.filter((p) => p.done === p.end - p.start).length ?? 0;
    // Kill right after a save: what the sidecar lags behind is then at most the parts in flight.
    if (complete >= 2 && state!.updated_at !== lastUpdate && lastUpdate !== "") break;
    if (complete >= 2) lastUpdate = state!.updated_at;
    await sleep(10);
  }
  child.kill("SIGKILL");
  await finish(child);
  const state = (await readResumeState(partial))!;
  const saved = doneBytes(state);
  assert.ok(saved > 0 && saved < BIG.length, `saved ${saved}`);
  const ls = await w.lode(["job", "ls", "--json"]);
  assert.equal(ls.events.length, 1);
  assert.equal(ls.events[0]!.state, "interrupted");
  return { id: ls.events[0]!.id as string, saved, ref };
}

Deno.test("a download job SIGKILLed mid-download resumes from its partial: at most one part per connection fetched twice", async () => {
  const throttle = { on: true };
  await withEngine({ "/big.gguf": route(throttle) }, async (w) => {
    const { id, saved } = await interruptedJob(w);
    const firstRun = getsOf(w.origin, "/big.gguf");

    throttle.on = false;
    const r = await w.lode(["--connections", "2", "job", "resume", id, "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const job = jobOf(r.events);
    assert.equal(job.state, "succeeded");
    assert.equal(job.attempts, 2);
    assert.deepEqual(job.progress, { unit: "bytes", done: BIG.length, total: BIG.length });
    assert.deepEqual(
      await Deno.readFile(`${w.store}/blobs/sha256/${BIG_SHA.slice(0, 2)}/${BIG_SHA}/data`),
      BIG,
    );

    const secondRun = getsOf(w.origin, "/big.gguf", firstRun.length);
    assert.ok(secondRun.length > 0);
    assert.equal(rangeBytes(secondRun), BIG.length - saved, "the resume asked for the missing bytes only");
    // Bytes the origin sent to the killed run and was asked for again: at most one part per connection.
    const sentFirst = firstRun.map((g) => ({
      start: rangeOf(g)!.start,
      end: rangeOf(g)!.start + g.sentBytes,
    }));
    const twice = secondRun.reduce((sum, g) => {
      const range = rangeOf(g)!;
      return sum +
        sentFirst.reduce(
          (s, f) => s + Math.max(0, Math.min(f.end, range.end + 1) - Math.max(f.start, range.start)),
          0,
        );
    }, 0);
    assert.ok(twice <= 2 * PART_BYTES, `${twice} bytes sent in both runs`);

    const again = await w.lode(["job", "resume", id]);
    assert.equal(again.code, 6, again.stderr);
    assert.match(again.stderr, /error\[JOB_FINISHED\]/);
  });
});

Deno.test("two `lode job resume` at once: the second fails with JOB_RUNNING naming the first's pid", async () => {
  const throttle = { on: true };
  await withEngine({ "/big.gguf": route(throttle) }, async (w) => {
    const { id } = await interruptedJob(w);
    // A claim held while the record still reads `interrupted` (a resume that has claimed the job and not yet
    // recorded `running`; here this test's process holds it): a resume refuses, naming the holder.
    const held = await claimJob(`${w.store}/jobs/${id}`);
    const refused = await runLode(["job", "resume", id, "--json"], { store: w.store });
    await held.release();
    assert.equal(refused.code, 7, refused.stderr);
    assert.equal(refused.events.find((e) => e.event === "error")?.code, "JOB_RUNNING");
    assert.match(refused.stderr + refused.stdout, new RegExp(`process ${Deno.pid}\\b`));

    // The first resume downloads the rest, throttled: it is still running when the second starts.
    const first = spawnLode(["--ca-cert", w.ca.caCertPath, "job", "resume", id, "--json"], {
      store: w.store,
    });
    const out = new Response(first.stdout).text();
    const err = new Response(first.stderr).text();
    const claim = claimPath(`${w.store}/jobs/${id}`);
    while ((await readClaim(claim))?.pid !== first.pid) await sleep(10);

    const second = await runLode(["job", "resume", id, "--json"], { store: w.store });
    assert.equal(second.code, 7, second.stderr);
    const error = second.events.find((e) => e.event === "error")!;
    assert.equal(error.code, "JOB_RUNNING");
    assert.match(String(error.message), new RegExp(`process ${first.pid}\\b`));
    assert.equal((error.details as Record<string, unknown>).pid, first.pid);

    throttle.on = false;
    const status = await first.status;
    assert.equal(status.code, 0, await err);
    const job = jobOf(parseEvents(await out));
    assert.equal(job.state, "succeeded");
    assert.equal(job.attempts, 2, "the job ran twice: the killed run and the first resume");
    const states = (await Deno.readTextFile(`${w.store}/jobs/${id}/events.ndjson`)).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((e) => e.event === "job_state").map((e) => e.state);
    assert.deepEqual(states, ["running", "running", "succeeded"]);
    assert.equal(await readClaim(claim), null, "the claim is released when the run ends");
    assert.deepEqual(
      await Deno.readFile(`${w.store}/blobs/sha256/${BIG_SHA.slice(0, 2)}/${BIG_SHA}/data`),
      BIG,
    );
  });
});
