/**
 * Download jobs through real CLI processes against a real HTTPS origin on loopback: a `model-download`
 * job pulls and verifies, its progress in bytes; lock-add and sync jobs edit and install a lockfile. A
 * download job SIGKILLed mid-download and resumed: tests/job_resume_test.ts.
 */
import assert from "node:assert/strict";
import { JobRecord } from "../src/jobs/job_record.ts";
import { makeTestCa } from "./support/test_ca.ts";
import { startOrigin } from "./support/origin.ts";
import { runLode } from "./support/lode_cli.ts";
import { withTempDir } from "./support/temp_dir.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;
const SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const BYTES = await Deno.readFile(FIXTURE);

const jobOf = (events: Record<string, unknown>[]) =>
  JobRecord.parse(events.findLast((e) => e.event === "job"));

Deno.test("a model-download job pulls and verifies; its record has the manifest and progress in bytes", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const origin = await startOrigin({ tls: ca, routes: { "/m.gguf": { body: BYTES } } });
    try {
      const spec = JSON.stringify({ ref: `${origin.url}/m.gguf#sha256=${SHA}` });
      const r = await runLode([
        "--ca-cert",
        ca.caCertPath,
        "job",
        "run",
        "model-download",
        "--spec",
        spec,
        "--json",
      ], {
        store: `${dir}/store`,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.events.some((e) => e.event === "file_progress"), "the download events are printed");
      const job = jobOf(r.events);
      assert.equal(job.state, "succeeded");
      assert.deepEqual(job.progress, { unit: "bytes", done: BYTES.length, total: BYTES.length });
      assert.equal(job.artifacts[0]!.path, `${dir}/store/manifests/m.json`);
      assert.deepEqual(await Deno.readFile(`${dir}/store/blobs/sha256/27/${SHA}/data`), BYTES);
    } finally {
      await origin.close();
    }
  }, { prefix: "lode-job-dl-" });
});

Deno.test("a lock-add job pins a reference in a lockfile relative to its directory", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const origin = await startOrigin({ tls: ca, routes: { "/m.gguf": { body: BYTES } } });
    try {
      const spec = JSON.stringify({ ref: `${origin.url}/m.gguf`, lockfile: "ci/models.lock" });
      await Deno.mkdir(`${dir}/ci`);
      const r = await runLode([
        "--ca-cert",
        ca.caCertPath,
        "job",
        "run",
        "lock-add",
        "--spec",
        spec,
        "--json",
      ], {
        store: `${dir}/store`,
        cwd: dir,
      });
      assert.equal(r.code, 0, r.stderr);
      const job = jobOf(r.events);
      assert.equal(job.state, "succeeded");
      assert.deepEqual(job.result, {
        lockfile: `${dir}/ci/models.lock`,
        model: "m",
        replaced: false,
        downloaded: true,
      });
      assert.equal(job.artifacts[0]!.path, `${dir}/ci/models.lock`);
      const lock = JSON.parse(await Deno.readTextFile(`${dir}/ci/models.lock`));
      assert.equal(lock.models[0].files[0].sha256, SHA);
    } finally {
      await origin.close();
    }
  }, { prefix: "lode-job-dl-" });
});

Deno.test("a sync job installs what a lockfile pins (as `lode sync`); the lockfile is its artifact", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const origin = await startOrigin({ tls: ca, routes: { "/m.gguf": { body: BYTES } } });
    try {
      await Deno.mkdir(`${dir}/ci`);
      const add = await runLode(["--ca-cert", ca.caCertPath, "lock", "add", `${origin.url}/m.gguf`], {
        store: `${dir}/first`,
        cwd: dir,
        env: { LODE_LOCKFILE: "ci/models.lock" },
      });
      assert.equal(add.code, 0, add.stderr);
      const store = `${dir}/store`; // empty: everything the lockfile pins is pulled
      const spec = JSON.stringify({ lockfile: "ci/models.lock" });
      const r = await runLode(["--ca-cert", ca.caCertPath, "job", "run", "sync", "--spec", spec, "--json"], {
        store,
        cwd: dir,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.events.some((e) => e.event === "sync_check"), "the sync's events are printed");
      const job = jobOf(r.events);
      assert.equal(job.state, "succeeded");
      const result = job.result as Record<string, unknown>;
      assert.equal(result.lockfile, `${dir}/ci/models.lock`);
      assert.deepEqual(result.synced, [{ name: "m", status: "pulled" }]);
      assert.equal(result.ok, true);
      assert.equal(job.artifacts.find((a) => a.id === "lockfile")?.path, `${dir}/ci/models.lock`);
      assert.deepEqual(await Deno.readFile(`${store}/blobs/sha256/27/${SHA}/data`), BYTES);

      // A name the lockfile lacks: the job fails with the error `lode sync NAME` gives.
      const unknown = await runLode(
        ["job", "run", "sync", "--spec", JSON.stringify({ lockfile: "ci/models.lock", names: ["nope"] })],
        { store, cwd: dir },
      );
      assert.equal(unknown.code, 3, unknown.stderr);
      assert.match(unknown.stderr, /error\[MODEL_NOT_FOUND\]/);
    } finally {
      await origin.close();
    }
  }, { prefix: "lode-job-dl-" });
});
