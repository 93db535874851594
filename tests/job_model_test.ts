/**
 * Model jobs through real CLI processes and the real stories260K model: a model-warmup job loads the model
 * into a real `lode serve` of the store (found at the default socket, or given with `--socket`), and without
 * a daemon fails with `DAEMON_NOT_RUNNING`; a model-inference job generates in this process, or in the
 * daemon when one serves the store, its text kept in `output.txt` in the job's directory.
 */
import assert from "node:assert/strict";
import { DaemonClient } from "../src/daemon/wire/client.ts";
import { JobRecord } from "../src/jobs/job_record.ts";
import { runLode } from "./support/lode_cli.ts";
import { startServe, storeWithStories } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";

const jobOf = (events: Record<string, unknown>[]) =>
  JobRecord.parse(events.findLast((e) => e.event === "job"));

const INFERENCE = JSON.stringify({ model: "stories260K", prompt: "Once upon a time", max_tokens: 16 });

/** The store with stories260K, and an environment whose default daemon socket is `<dir>/run/lode/lode.sock`. */
async function world(dir: string) {
  const store = await storeWithStories(dir);
  await Deno.mkdir(`${dir}/run/lode`, { recursive: true, mode: 0o700 });
  return { store, env: { XDG_RUNTIME_DIR: `${dir}/run` }, socket: `${dir}/run/lode/lode.sock` };
}

Deno.test("without a daemon: warmup fails with DAEMON_NOT_RUNNING saying to start lode serve; inference runs here", async () => {
  await withTempDir(async (dir) => {
    const { store, env } = await world(dir);
    const warmup = await runLode(
      ["job", "run", "model-warmup", "--spec", '{"model":"stories260K"}', "--json"],
      { store, env },
    );
    assert.equal(warmup.code, 3, warmup.stderr);
    const error = warmup.events.find((e) => e.event === "error")!;
    assert.equal(error.code, "DAEMON_NOT_RUNNING");
    assert.match(String(error.hint), /lode serve/);
    assert.equal(jobOf(warmup.events).state, "failed");

    const r = await runLode(["job", "run", "model-inference", "--spec", INFERENCE, "--json"], { store, env });
    assert.equal(r.code, 0, r.stderr);
    const job = jobOf(r.events);
    assert.equal(job.state, "succeeded");
    const result = job.result as {
      text: string;
      usage: { generatedTokens: number };
      output: string;
      daemon?: string;
    };
    assert.ok(result.text.length > 0);
    assert.equal(result.daemon, undefined, "no daemon: the model ran in the job's process");
    assert.ok(
      result.usage.generatedTokens > 0 && result.usage.generatedTokens <= 16,
      JSON.stringify(result.usage),
    );
    assert.equal(result.output, `${store}/jobs/${job.id}/output.txt`);
    assert.equal(await Deno.readTextFile(result.output), result.text);
  }, { prefix: "lode-job-model-" });
});

Deno.test("with the store's daemon: warmup loads the model there; inference runs there, with the same text", async () => {
  await withTempDir(async (dir) => {
    const { store, env, socket } = await world(dir);
    const here = await runLode(["job", "run", "model-inference", "--spec", INFERENCE, "--json"], {
      store,
      env: { XDG_RUNTIME_DIR: `${dir}/none` },
    });
    assert.equal(here.code, 0, here.stderr);
    const daemon = await startServe(`${dir}/run/lode`, store);
    try {
      assert.equal(daemon.socket, socket);
      const warmup = await runLode(
        ["job", "run", "model-warmup", "--spec", '{"model":"stories260K"}', "--json"],
        { store, env },
      );
      assert.equal(warmup.code, 0, warmup.stderr);
      const job = jobOf(warmup.events);
      assert.equal(job.state, "succeeded");
      const result = job.result as { model: string; socket: string; load_ms: number; context_size: number };
      assert.equal(result.model, "stories260K");
      assert.equal(result.socket, socket);
      assert.ok(result.context_size > 0);
      const client = await DaemonClient.connect(socket);
      try {
        assert.deepEqual(
          (await client.health()).loaded,
          ["stories260K"],
          "the daemon holds the model loaded",
        );
      } finally {
        client.close();
      }

      const r = await runLode(["job", "run", "model-inference", "--spec", INFERENCE, "--json"], {
        store,
        env,
      });
      assert.equal(r.code, 0, r.stderr);
      const inference = jobOf(r.events).result as { text: string; daemon?: string };
      assert.equal(inference.daemon, socket);
      assert.equal(inference.text, (jobOf(here.events).result as { text: string }).text);

      // --socket names the daemon explicitly (here a store's daemon found without the default path).
      const given = await runLode(
        ["job", "run", "model-warmup", "--socket", socket, "--spec", '{"model":"stories260K"}', "--json"],
        { store, env: { XDG_RUNTIME_DIR: `${dir}/none` } },
      );
      assert.equal(given.code, 0, given.stderr);
      assert.equal((jobOf(given.events).result as { socket: string }).socket, socket);
    } finally {
      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
    }
  }, { prefix: "lode-job-model-" });
});
