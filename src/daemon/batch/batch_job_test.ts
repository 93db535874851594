import assert from "node:assert/strict";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import { createLlamaCppBackend } from "../../inference/llama_cpp_backend.ts";
import { planJob } from "../../jobs/job_plan.ts";
import { JobRecords } from "../../jobs/job_record.ts";
import { runJob } from "../../jobs/job_runner.ts";
import { parseJobSpec } from "../../jobs/job_spec.ts";
import { importModelFile } from "../../store/import_file.ts";
import { ModelStore } from "../../store/model_store.ts";
import { batchJobEffect, DEFAULT_BATCH_CONTEXT } from "./batch_job.ts";

const FIXTURE = new URL("../../../tests/fixtures/stories260K.gguf", import.meta.url).pathname;

const request = (i: number) =>
  JSON.stringify({
    custom_id: `r${i}`,
    method: "POST",
    url: "/v1/completions",
    body: { prompt: `Once ${i}`, max_tokens: 8, temperature: 0 },
  });

Deno.test("a batch job: progress in requests with the rate, artifacts, and a resume that does not restart again", async () => {
  await withTempDir(async (dir) => {
    const store = await ModelStore.open(`${dir}/store`);
    const { manifest } = await importModelFile(store, FIXTURE, { name: "stories260K" });
    const records = new JobRecords(store.layout.root);
    await Deno.writeTextFile(`${dir}/in.jsonl`, [0, 1, 2, 3, 4].map(request).join("\n") + "\n");
    await Deno.writeTextFile(`${dir}/out.jsonl`, "stale line of another run\n");
    const backend = createLlamaCppBackend();
    const loads: [number, number | undefined][] = [];
    const batch = batchJobEffect({
      resolveModel: async (name) => ({
        sha256: (await store.getManifest(name)).blob.slice("sha256:".length),
      }),
      open: async (name, { parallel, contextSize }) => {
        loads.push([parallel, contextSize]);
        const session = await backend.load(await store.modelPathOf(name), {
          gpu: "off",
          threads: 1,
          sequences: parallel,
          contextSize: (contextSize ?? DEFAULT_BATCH_CONTEXT) * parallel,
        });
        return { target: session, close: () => session.close() };
      },
    });
    try {
      const spec = {
        model: "stories260K",
        inputs: "in.jsonl",
        output: "out.jsonl",
        parallel: 2,
        restart: true,
      };
      const record = await records.create(planJob(parseJobSpec("model-batch-inference", spec)), dir);
      const first = await runJob(record, { records, store, effects: { batch } });
      assert.equal(first.error, null, String(first.error));
      assert.deepEqual(first.record.progress.done, 5);
      assert.equal(first.record.progress.failed, 0);
      assert.ok((first.record.progress.tokens_per_second ?? 0) > 0);
      // The tokens used, in the last progress and in the result alike.
      assert.ok((first.record.progress.usage?.output_tokens ?? 0) > 0);
      assert.deepEqual((first.record.result as { usage: unknown }).usage, first.record.progress.usage);
      assert.deepEqual(first.record.artifacts.map((a) => a.id), ["output", "errors"]);
      assert.equal((first.record.result as { model: string }).model, manifest.name);
      const out = await Deno.readTextFile(`${dir}/out.jsonl`);
      assert.equal(out.split("\n").filter((l) => l !== "").length, 5, "restarted: the stale line is gone");
      // Run again (as `lode job resume` does): the answers are kept, nothing is loaded or run.
      const again = await runJob(first.record, { records, store, effects: { batch } });
      assert.equal(again.error, null, String(again.error));
      assert.equal((again.record.result as { skipped: number }).skipped, 5);
      assert.equal(await Deno.readTextFile(`${dir}/out.jsonl`), out);
      // A spec without context_size: open is given none (the command line's default, a daemon's own).
      assert.deepEqual(loads, [[2, undefined]]);
    } finally {
      await backend.close();
    }
  });
});
