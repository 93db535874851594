import assert from "node:assert/strict";
import { withTempDir } from "../../tests/support/temp_dir.ts";
import { importModelFile } from "../store/import_file.ts";
import { ModelStore } from "../store/model_store.ts";
import type { JobEvent } from "../events/job_event.ts";
import { JobRecords } from "./job_record.ts";
import { parseJobSpec } from "./job_spec.ts";
import { planJob } from "./job_plan.ts";
import { runJob, type RunJobOptions } from "./job_runner.ts";

const FIXTURE = new URL("../../tests/fixtures/stories260K.gguf", import.meta.url).pathname;

async function setup(dir: string) {
  const store = await ModelStore.open(`${dir}/store`);
  const { manifest } = await importModelFile(store, FIXTURE, { name: "stories260K" });
  const records = new JobRecords(store.layout.root);
  return { store, records, manifest };
}

async function run(
  dir: string,
  kind: string,
  spec: Record<string, unknown>,
  options: Partial<RunJobOptions> = {},
) {
  const { store, records } = await setup(dir);
  const record = await records.create(planJob(parseJobSpec(kind, spec)), dir);
  const events: JobEvent[] = [];
  const outcome = await runJob(record, {
    records,
    store,
    ...options,
    onEvent: (e) => {
      events.push(e);
      options.onEvent?.(e);
    },
  });
  const onDisk = await records.read(record.id);
  assert.deepEqual(onDisk, outcome.record, "the record on disk is the outcome");
  const lines = (await Deno.readTextFile(`${records.jobDir(record.id)}/events.ndjson`)).trim().split("\n");
  assert.deepEqual(lines.map((l) => JSON.parse(l)), events, "events.ndjson holds every event, in order");
  return { ...outcome, events, store };
}

Deno.test("validate: re-hashes the model, succeeds with its digest; progress in bytes", async () => {
  await withTempDir(async (dir) => {
    const { record, error, events } = await run(dir, "model-validate-bundle", { model: "stories260K" });
    assert.equal(error, null);
    assert.equal(record.state, "succeeded");
    assert.equal((record.result as { valid: boolean }).valid, true);
    assert.equal(record.progress.unit, "bytes");
    assert.equal(record.progress.done, record.progress.total);
    assert.deepEqual(
      events.filter((e) => e.event === "job_state").map((e) => e.event === "job_state" && e.state),
      ["running", "succeeded"],
    );
    assert.equal(record.attempts, 1);
  });
});

Deno.test("validate: bad bytes fail with DIGEST_MISMATCH and are quarantined", async () => {
  await withTempDir(async (dir) => {
    const { store, records, manifest } = await setup(dir);
    const blob = store.layout.blobPath(manifest.blob.slice(7));
    await Deno.chmod(blob, 0o644);
    const bytes = await Deno.readFile(blob);
    bytes[bytes.length - 1]! ^= 1;
    await Deno.writeFile(blob, bytes);
    const record = await records.create(
      planJob(parseJobSpec("model-validate-bundle", { model: "stories260K" })),
      dir,
    );
    const { record: done, error } = await runJob(record, { records, store });
    assert.equal(done.state, "failed");
    assert.equal(error?.code, "DIGEST_MISMATCH");
    assert.equal(done.error?.code, "DIGEST_MISMATCH");
  });
});

Deno.test("materialize: the model's file under its original name, linked or copied; artifacts with sha256", async () => {
  await withTempDir(async (dir) => {
    for (const mode of ["symlink", "copy"]) {
      const { record, error } = await run(dir, "model-materialize-bundle", {
        model: "stories260K",
        target: `out-${mode}`,
        mode,
      });
      assert.equal(error, null, String(error));
      const path = `${dir}/out-${mode}/stories260K.gguf`;
      assert.equal((await Deno.lstat(path)).isSymlink, mode === "symlink");
      assert.deepEqual(await Deno.readFile(path), await Deno.readFile(FIXTURE));
      const file = record.artifacts.find((a) => a.id === "file-0")!;
      assert.equal(file.path, path);
      assert.equal(file.size, (await Deno.stat(FIXTURE)).size);
      assert.match(file.sha256!, /^[0-9a-f]{64}$/);
      assert.deepEqual(record.progress, { unit: "files", done: 1, total: 1, message: "stories260K.gguf" });
      await Deno.remove(`${dir}/store`, { recursive: true });
    }
  });
});

Deno.test("a model the store lacks: MODEL_NOT_FOUND, the job failed", async () => {
  await withTempDir(async (dir) => {
    const { record, error } = await run(dir, "model-validate-bundle", { model: "absent" });
    assert.equal(record.state, "failed");
    assert.equal(error?.code, "MODEL_NOT_FOUND");
  });
});

Deno.test("download: runs the injected pull, forwards its events, records the manifest", async () => {
  await withTempDir(async (dir) => {
    const forwarded: string[] = [];
    const { record, error } = await run(dir, "model-download", { ref: "tiny" }, {
      onForward: (e) => forwarded.push(e.event),
      effects: {
        pull: async (ref, { onEvent }) => {
          const store = await ModelStore.open(`${dir}/store`);
          onEvent({ event: "started", total_bytes: 10 } as { event: string });
          onEvent({ event: "file_progress", filename: "a", downloaded_bytes: 10 } as { event: string });
          await importModelFile(store, FIXTURE, { name: ref });
          return { name: ref, result: { name: ref } };
        },
      },
    });
    assert.equal(error, null, String(error));
    assert.deepEqual(forwarded, ["started", "file_progress"]);
    assert.deepEqual(record.progress, { unit: "bytes", done: 10, total: 10 });
    assert.equal(record.artifacts[0]!.id, "manifest");
  });
});

Deno.test("batch inference without a batch effect: JOB_NOT_IMPLEMENTED", async () => {
  await withTempDir(async (dir) => {
    const { record, error } = await run(dir, "model-batch-inference", {
      model: "stories260K",
      inputs: "in.jsonl",
      output: "out.jsonl",
    });
    assert.equal(record.state, "failed");
    assert.equal(error?.code, "JOB_NOT_IMPLEMENTED");
  });
});

Deno.test("external command: exit status, stdout and stderr become the result and artifacts", async () => {
  await withTempDir(async (dir) => {
    const { record, error } = await run(dir, "model-external-command", {
      model: "stories260K",
      command: "sh",
      args: ["-c", 'echo "model=$1 env=$LODE_MODEL_PATH"; echo oops >&2', "sh", "{model}"],
    });
    assert.equal(error, null, String(error));
    const result = record.result as { exit_code: number; model_path: string };
    assert.equal(result.exit_code, 0);
    const stdout = await Deno.readTextFile(record.artifacts.find((a) => a.id === "stdout")!.path);
    assert.equal(stdout, `model=${result.model_path} env=${result.model_path}\n`);
    const stderr = record.artifacts.find((a) => a.id === "stderr")!;
    assert.equal(stderr.size, 5);
    assert.match(stderr.sha256!, /^[0-9a-f]{64}$/);
  });
});

Deno.test("external command: non-zero exit is EXTERNAL_COMMAND_FAILED (output kept); a missing program NOT_FOUND", async () => {
  await withTempDir(async (dir) => {
    const failed = await run(dir, "model-external-command", {
      model: "stories260K",
      command: "sh",
      args: ["-c", "echo bad; exit 3"],
    });
    assert.equal(failed.record.state, "failed");
    assert.equal(failed.error?.code, "EXTERNAL_COMMAND_FAILED");
    assert.equal(failed.error?.details.exit_code, 3);
    assert.equal(failed.record.artifacts.length, 2);
    await Deno.remove(`${dir}/store`, { recursive: true });
    const missing = await run(dir, "model-external-command", {
      model: "stories260K",
      command: "./no-such-program",
    });
    assert.equal(missing.error?.code, "EXTERNAL_COMMAND_NOT_FOUND");
  });
});

Deno.test("cancelling through the signal: the program gets SIGTERM, the job is cancelled", async () => {
  await withTempDir(async (dir) => {
    const controller = new AbortController();
    const promise = run(dir, "model-external-command", {
      model: "stories260K",
      command: "sleep",
      args: ["30"],
    }, {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.event === "job_progress" && e.progress.done === 1) controller.abort();
      },
      progressEveryMs: 0,
    });
    const { record, error } = await promise;
    assert.equal(record.state, "cancelled");
    assert.equal(error?.code, "CANCELLED");
    assert.equal(record.error?.code, "CANCELLED");
  });
});
