/**
 * Jobs in a real daemon (`lode serve` processes) over its real socket, pulling from a real HTTPS origin
 * on loopback: a pull's client killed mid-download and the job completes; a cancel mid-download keeps the
 * partial and writes no manifest; a daemon SIGKILLed or stopped mid-job leaves it `interrupted`, the next
 * daemon lists it and resumes it from its partial; two clients share one job; 100 watchers see every event
 * in order while a watcher that never reads holds nothing up; the admin stream carries job frames.
 */
import assert from "node:assert/strict";
import { JobRecord } from "../src/jobs/job_record.ts";
import { makeTestCa, type TestCa } from "./support/test_ca.ts";
import { type Origin, startOrigin } from "./support/origin.ts";
import { finish, runLode, spawnLode } from "./support/lode_cli.ts";
import { type ServeProcess, startServe } from "./support/serve_process.ts";
import { type Frame, FrameClient } from "./support/frame_client.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { ggufWith } from "./support/gguf_bytes.ts";

const encodeHex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

/** A 24 MiB model: six 4 MiB parts, so a resume that reuses the partial fetches at most one part per connection. */
const BYTES = ggufWith(new Uint8Array(24 * 1024 * 1024).map((_, i) => (i * 7) % 251));
const SHA = encodeHex(
  new Uint8Array(await crypto.subtle.digest("SHA-256", BYTES as Uint8Array<ArrayBuffer>)),
);
const PART = 4 * 1024 * 1024;
const STALL_AT = 500_000;

interface World {
  dir: string;
  store: string;
  ca: TestCa;
  origin: Origin;
  ref: string;
}

/** An origin serving the model, stalling `stallMs` after {@link STALL_AT} bytes on its first GET. */
async function withWorld(stallMs: number, body: (w: World) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const origin = await startOrigin({
      tls: ca,
      routes: {
        "/m.gguf": {
          body: BYTES,
          fault: { kind: "stall", afterBytes: STALL_AT, ms: stallMs },
          faultTimes: 1,
        },
      },
    });
    try {
      await body({ dir, store: `${dir}/store`, ca, origin, ref: `${origin.url}/m.gguf#sha256=${SHA}` });
    } finally {
      await origin.close();
    }
  }, { prefix: "lode-djobs-" });
}

const serve = (w: World, sub = "d") =>
  Deno.mkdir(`${w.dir}/${sub}`, { recursive: true }).then(() =>
    startServe(`${w.dir}/${sub}`, w.store, ["--ca-cert", w.ca.caCertPath])
  );

/** Bytes of GETs the origin has sent, from request `from` on. */
const sentBytes = (origin: Origin, from = 0) =>
  origin.requests.slice(from).filter((r) => r.method === "GET").reduce((n, r) => n + r.sentBytes, 0);

/**
 * Resolves once the origin has sent every part but the stalled first one (the pull is mid-way: what the
 * other connections fetched is on disk, the first part waits in its stall).
 */
async function midDownload(origin: Origin, store: string): Promise<void> {
  while (
    sentBytes(origin) < BYTES.length - PART + STALL_AT || await savedBytes(store) < BYTES.length - PART
  ) {
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Bytes the partial download's resume sidecar records as written (0 before it has one). */
async function savedBytes(store: string): Promise<number> {
  const dir = `${store}/blobs/sha256/${SHA.slice(0, 2)}`;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.name.startsWith(".partial-")) continue;
      const state = JSON.parse(await Deno.readTextFile(`${dir}/${e.name}/state.json`));
      return (state.parts as { done: number }[]).reduce((n, p) => n + p.done, 0);
    }
  } catch {
    // not there yet
  }
  return 0;
}

async function request(client: FrameClient, id: string, body: Record<string, unknown>): Promise<Frame[]> {
  await client.write({ id, ...body });
  return await client.frames(id, 60_000);
}

async function jobOf(client: FrameClient, id: string, body: Record<string, unknown>): Promise<JobRecord> {
  const frames = await request(client, id, body);
  const frame = frames.find((f) => f.type === "job");
  assert.ok(frame, JSON.stringify(frames));
  return JobRecord.parse(frame.job);
}

async function stopped(daemon: ServeProcess): Promise<void> {
  const r = await daemon.stop();
  assert.equal(r.code, 0, r.stderr);
}

Deno.test("a daemon pull's client killed mid-download: the job completes, and is listed with its progress", async () => {
  await withWorld(2_000, async (w) => {
    const daemon = await serve(w);
    try {
      const child = spawnLode(["pull", w.ref, "--socket", daemon.socket, "--json"], { store: w.store });
      await midDownload(w.origin, w.store);
      child.kill("SIGKILL");
      await finish(child);
      const client = await FrameClient.connect(daemon.socket);
      const [listed] = (await request(client, "l", { op: "job_list" })).filter((f) => f.type === "jobs");
      const jobs = listed!.jobs as { id: string; kind: string; state: string }[];
      assert.equal(jobs.length, 1);
      assert.equal(jobs[0]!.kind, "model-download");
      const frames = await request(client, "w", { op: "job_watch", job: jobs[0]!.id });
      const done = JobRecord.parse(frames.find((f) => f.type === "job")!.job);
      assert.equal(done.state, "succeeded", JSON.stringify(done.error));
      assert.equal(done.daemon_socket, daemon.socket);
      assert.deepEqual(await Deno.readFile(`${w.store}/blobs/sha256/${SHA.slice(0, 2)}/${SHA}/data`), BYTES);
      client.close();
    } finally {
      await stopped(daemon);
    }
  });
});

Deno.test("an attached `lode pull --socket` prints the pull's result and download events as a local pull does", async () => {
  await withWorld(0, async (w) => {
    const daemon = await serve(w);
    try {
      const r = await runLode(["pull", w.ref, "--socket", daemon.socket, "--json"], { store: w.store });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.events.some((e) => e.event === "file_progress" || e.event === "file_completed"), r.stdout);
      assert.ok(r.events.some((e) => e.event === "completed" && e.blob === `sha256:${SHA}`), r.stdout);
      assert.equal((await runLode(["ls", "--json"], { store: w.store })).events.length, 1);
    } finally {
      await stopped(daemon);
    }
  });
});

Deno.test("cancelling a daemon pull mid-download: cancelled, no manifest, the partial kept for the next pull", async () => {
  await withWorld(120_000, async (w) => {
    const daemon = await serve(w);
    try {
      const detached = await runLode(["pull", w.ref, "--detach", "--socket", daemon.socket, "--json"], {
        store: w.store,
      });
      assert.equal(detached.code, 0, detached.stderr);
      const id = detached.events.find((e) => e.event === "job")!.id as string;
      await midDownload(w.origin, w.store);
      // `lode job cancel` finds the daemon's socket in the record and cancels there (no signal to the daemon).
      const cancel = await runLode(["job", "cancel", id, "--json"], { store: w.store });
      assert.equal(cancel.code, 0, cancel.stderr);
      assert.equal(JobRecord.parse(cancel.events.find((e) => e.event === "job")).state, "cancelled");
      assert.equal(await Deno.stat(`${w.store}/manifests/m.json`).then(() => true, () => false), false);
      const client = await FrameClient.connect(daemon.socket);
      const again = await request(client, "c2", { op: "job_cancel", job: id });
      assert.equal(again.at(-1)!.code, "JOB_FINISHED");
      client.close();
      const before = w.origin.requests.length;
      const pulled = await runLode(["--ca-cert", w.ca.caCertPath, "pull", w.ref], { store: w.store });
      assert.equal(pulled.code, 0, pulled.stderr);
      const after = w.origin.requests.slice(before).filter((r) => r.method === "GET");
      const fetched = after.reduce((n, r) => n + r.sentBytes, 0);
      assert.ok(
        fetched < BYTES.length,
        `the partial is reused: ${fetched} of ${BYTES.length} bytes fetched again`,
      );
    } finally {
      await stopped(daemon);
    }
  });
});

Deno.test("a daemon SIGKILLed mid-job: the job reads interrupted, the next daemon lists it and resumes it from its partial", async () => {
  await withWorld(120_000, async (w) => {
    const first = await serve(w, "d1");
    const client = await FrameClient.connect(first.socket);
    const job = await jobOf(client, "s", { op: "job_submit", kind: "model-download", spec: { ref: w.ref } });
    await midDownload(w.origin, w.store);
    client.close();
    await first.stop("SIGKILL");
    const ls = await runLode(["job", "ls", "--json"], { store: w.store });
    assert.equal(ls.events[0]!.state, "interrupted");

    const second = await serve(w, "d2");
    try {
      const next = await FrameClient.connect(second.socket);
      const [listed] = (await request(next, "l", { op: "job_list" })).filter((f) => f.type === "jobs");
      assert.deepEqual((listed!.jobs as JobRecord[]).map((j) => [j.id, j.state]), [[job.id, "interrupted"]]);
      const before = w.origin.requests.length;
      const resumed = await jobOf(next, "r", { op: "job_resume", job: job.id });
      assert.equal(resumed.state, "running");
      const frames = await request(next, "w", { op: "job_watch", job: job.id });
      const done = JobRecord.parse(frames.find((f) => f.type === "job")!.job);
      assert.equal(done.state, "succeeded", JSON.stringify(done.error));
      assert.equal(done.attempts, 2);
      const seqs = frames.filter((f) => f.type === "job_event").map((f) => f.seq);
      assert.deepEqual(seqs, seqs.map((_, i) => i + 1), "both runs' events, numbered in order");
      const fetched = w.origin.requests.slice(before).filter((r) => r.method === "GET")
        .reduce((n, r) => n + r.sentBytes, 0);
      assert.ok(
        fetched < BYTES.length,
        `resumed from the partial: ${fetched} of ${BYTES.length} bytes fetched`,
      );
      next.close();
    } finally {
      await stopped(second);
    }
  });
});

Deno.test("a daemon stopped mid-job records it interrupted (resumable), never lost", async () => {
  await withWorld(120_000, async (w) => {
    const daemon = await serve(w);
    const client = await FrameClient.connect(daemon.socket);
    const job = await jobOf(client, "s", { op: "job_submit", kind: "model-download", spec: { ref: w.ref } });
    await midDownload(w.origin, w.store);
    client.close();
    await stopped(daemon);
    const record = JobRecord.parse(
      JSON.parse(await Deno.readTextFile(`${w.store}/jobs/${job.id}/record.json`)),
    );
    assert.equal(record.state, "interrupted");
    assert.equal(record.error?.code, "INTERRUPTED");
  });
});

Deno.test("two clients pulling one model share one job; 100 watchers see every event in order; a watcher that never reads holds nothing up", async () => {
  await withWorld(1_000, async (w) => {
    const daemon = await serve(w);
    const admin = await Deno.connect({ transport: "unix", path: daemon.adminSocket });
    try {
      const a = await FrameClient.connect(daemon.socket);
      const b = await FrameClient.connect(daemon.socket);
      const spec = { op: "job_submit", kind: "model-download", spec: { ref: w.ref } };
      const [one, two] = await Promise.all([request(a, "s", spec), request(b, "s", spec)]);
      const first = one.find((f) => f.type === "job")!;
      const second = two.find((f) => f.type === "job")!;
      const id = (first.job as JobRecord).id;
      assert.equal((second.job as JobRecord).id, id);
      assert.deepEqual([first.shared, second.shared].sort(), [false, true]);

      // A watcher that sends its request and never reads a byte.
      const stuck = await Deno.connect({ transport: "unix", path: daemon.socket });
      await stuck.write(
        new TextEncoder().encode(JSON.stringify({ id: "x", op: "job_watch", job: id }) + "\n"),
      );
      const ids = Array.from({ length: 100 }, (_, i) => `w${i}`);
      for (const wid of ids) await a.write({ id: wid, op: "job_watch", job: id });
      const all = await Promise.all(ids.map((wid) => a.frames(wid, 60_000)));
      const seqs = all.map((frames) => frames.filter((f) => f.type === "job_event").map((f) => f.seq));
      for (const s of seqs) assert.deepEqual(s, seqs[0]);
      assert.deepEqual(seqs[0], seqs[0]!.map((_, i) => i + 1));
      const states = all[0]!.filter((f) => f.type === "job_event").map((f) =>
        (f.event as { state?: string }).state
      )
        .filter(Boolean);
      assert.deepEqual(states, ["running", "succeeded"]);
      const missing = await request(b, "m", { op: "job_watch", job: "0000000aa-000000" });
      assert.equal(missing.at(-1)!.code, "JOB_NOT_FOUND");
      const unknown = await request(b, "k", { op: "job_submit", kind: "model-teleport", spec: {} });
      assert.equal(unknown.at(-1)!.code, "JOB_KIND_UNKNOWN");
      stuck.close();
      a.close();
      b.close();

      // The admin stream carried the job's events as `job` frames.
      const text = await readSome(admin);
      assert.match(
        text,
        new RegExp(`\\{"id":"admin","type":"job","event":\\{"event":"job_state","id":"${id}"`),
      );
    } finally {
      admin.close();
      await stopped(daemon);
    }
  });
});

/** What the admin socket has sent so far (reads until a short pause). */
async function readSome(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(1 << 20);
  let text = "";
  while (true) {
    const read = conn.read(buf);
    read.catch(() => {});
    const timer = new Promise<null>((r) => setTimeout(() => r(null), 300));
    const n = await Promise.race([read, timer]);
    if (n === null) return text;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

Deno.test("a request naming a reference pulls it as a job: listed while it runs, and a client's job_submit of it joins that job", async () => {
  await withWorld(1_500, async (w) => {
    const daemon = await serve(w);
    try {
      const client = await FrameClient.connect(daemon.socket);
      await client.write({ id: "l", op: "load", model: w.ref });
      let jobs: { id: string; kind: string; state: string }[] = [];
      while (jobs[0]?.state !== "running") {
        const frames = await request(client, `ls${Math.random()}`, { op: "job_list" });
        jobs = frames.find((f) => f.type === "jobs")!.jobs as typeof jobs;
      }
      assert.deepEqual(jobs.map((j) => [j.kind, j.state]), [["model-download", "running"]]);
      const joined = await request(client, "s", {
        op: "job_submit",
        kind: "model-download",
        spec: { ref: w.ref },
      });
      const frame = joined.find((f) => f.type === "job")!;
      assert.equal((frame.job as JobRecord).id, jobs[0]!.id);
      assert.equal(frame.shared, true);
      // The load waits for the job: it fails on the model (not a real llama model) after the pull, which
      // the job records as succeeded.
      await client.frames("l", 60_000);
      const done = await jobOf(client, "g", { op: "job_get", job: jobs[0]!.id });
      assert.equal(done.state, "succeeded");
      client.close();
    } finally {
      await stopped(daemon);
    }
  });
});
