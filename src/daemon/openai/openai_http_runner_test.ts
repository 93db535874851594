// The OpenAI-compatible front on the shipped router: real runner processes, the real model imported into a
// temporary store, the official openai client.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { importModelFile } from "../../store/import_file.ts";
import { ModelStore } from "../../store/model_store.ts";
import { childPids } from "../../../tests/support/child_pids.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import type { ActivityRecord } from "../server/activity_log.ts";
import { AdmissionQueue } from "../server/admission_queue.ts";
import { ModelRouter } from "../router/model_router.ts";
import { startOpenAiHttp } from "./openai_http.ts";

const MODEL = fileURLToPath(new URL("../../../tests/fixtures/stories260K.gguf", import.meta.url));

Deno.test("through runner processes: completion, streamed chat cancelled by the client, embeddings", async () => {
  await withTempDir(async (dir) => {
    const store = await ModelStore.open(dir);
    await importModelFile(store, MODEL, { name: "stories" });
    const router = new ModelRouter({ store, load: { threads: 1, gpu: "off" } });
    const queue = new AdmissionQueue({ maxQueue: 4, parallel: 1 });
    const records: ActivityRecord[] = [];
    const http = startOpenAiHttp({
      hostname: "127.0.0.1",
      port: 0,
      router,
      queue,
      onActivity: (r) => records.push(r),
    });
    const client = new OpenAI({ baseURL: http.url, apiKey: "unused", maxRetries: 0 });
    try {
      const models = await client.models.list();
      assert.deepEqual(models.data.map((m) => m.id), ["stories"]);

      const completion = await client.completions.create({
        model: "stories",
        prompt: "Once upon a time",
        max_tokens: 40,
        temperature: 0,
      });
      assert.equal(
        completion.choices[0]!.text,
        ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.",
      );
      assert.equal((await childPids()).length, 1, "the model runs in one runner process");

      const stream = await client.chat.completions.create({
        model: "stories",
        messages: [{ role: "user", content: "Tell me a long story." }],
        max_tokens: 2000,
        stream: true,
      });
      let chunks = 0;
      for await (const _ of stream) if (++chunks === 3) stream.controller.abort();
      const deadline = performance.now() + 30_000;
      while (queue.stats().running > 0) {
        assert.ok(performance.now() < deadline, "the cancelled generation kept its slot");
        await new Promise((r) => setTimeout(r, 10));
      }
      const chat = records.find((r) => r.op === "chat")!;
      assert.equal(chat.code, "CANCELLED", "the runner's generation was stopped, not finished");

      const embeddings = await client.embeddings.create({ model: "stories", input: ["a red ball", "a cat"] });
      assert.deepEqual(embeddings.data.map((d) => d.embedding.length), [64, 64]);
    } finally {
      await http.close();
      await router.close({ graceMs: 0 });
    }
    assert.deepEqual(await childPids(), []);
  }, { prefix: "lode-oai-runner-" });
});
