/**
 * `/v1/files` through the official `openai` client on a real front on 127.0.0.1 (a store in a temp
 * directory, the daemon's jobs over it): upload, list, retrieve, content, delete; and what it refuses in
 * OpenAI's error shape — another purpose, an empty file, an unknown id, a file over the limit (a small
 * one here; `lode serve` has 200 MB), a body that is not multipart.
 */
import assert from "node:assert/strict";
import { EventStream } from "../../events/event_stream.ts";
import { ModelStore } from "../../store/model_store.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import { apiError, withFront } from "../../../tests/support/openai_front.ts";
import { DaemonJobs } from "../jobs/daemon_jobs.ts";
import { createBatchApi } from "./batches_api.ts";
import type { World } from "../../../tests/support/openai_front.ts";

const LINE = '{"custom_id":"a","method":"POST","url":"/v1/completions","body":{"model":"m","prompt":"Hi"}}\n';

async function withFiles(body: (world: World, store: string) => Promise<void>): Promise<void> {
  await withTempDir(async (root) => {
    const store = await ModelStore.open(root);
    const jobs = new DaemonJobs({ store, events: new EventStream(), effects: {} });
    const batchApi = createBatchApi({ storeRoot: root, jobs, maxFileBytes: 1000 });
    await withFront({ batchApi }, (world) => body(world, root));
  }, { prefix: "lode-files-api-" });
}

Deno.test("files.create, list, retrieve, content, delete through the openai client", async () => {
  await withFiles(async ({ client, http }) => {
    const before = Math.floor(Date.now() / 1000);
    const file = await client.files.create({ file: new File([LINE], "in.jsonl"), purpose: "batch" });
    const after = Math.ceil(Date.now() / 1000);
    assert.match(file.id, /^file-/);
    assert.deepEqual([file.object, file.bytes, file.filename, file.purpose, file.status], [
      "file",
      LINE.length,
      "in.jsonl",
      "batch",
      "processed",
    ]);
    assert.ok(before <= file.created_at && file.created_at <= after, `created_at ${file.created_at}`);
    const second = await client.files.create({
      file: new File([LINE + LINE], "two.jsonl"),
      purpose: "batch",
    });
    const listed = [];
    for await (const f of client.files.list()) listed.push(f.id);
    assert.deepEqual(listed, [second.id, file.id], "newest first");
    const page = await client.files.list({ order: "asc", limit: 1 });
    assert.deepEqual(page.data.map((f) => f.id), [file.id]);
    assert.equal(page.has_more, true);
    assert.deepEqual(await client.files.retrieve(file.id), file);
    assert.equal(await (await client.files.content(file.id)).text(), LINE);
    assert.deepEqual(await client.files.delete(file.id), { id: file.id, object: "file", deleted: true });
    const gone = await apiError(client.files.retrieve(file.id));
    assert.deepEqual([gone.status, gone.type, gone.param, gone.code], [
      404,
      "invalid_request_error",
      "file_id",
      "FILE_NOT_FOUND",
    ]);
    assert.match(gone.message, /No such File object/);
    const undecodable = await fetch(`${http.url}/files/%E0/content`);
    assert.deepEqual([undecodable.status, (await undecodable.json()).error.code], [404, "FILE_NOT_FOUND"]);
  });
});

Deno.test("files.create refuses another purpose, an empty file, a file over the limit; nothing is kept", async () => {
  await withFiles(async ({ client, http }, root) => {
    const purpose = await apiError(
      client.files.create({ file: new File([LINE], "in.jsonl"), purpose: "fine-tune" }),
    );
    assert.deepEqual([purpose.status, purpose.type, purpose.param], [
      400,
      "invalid_request_error",
      "purpose",
    ]);
    assert.match(purpose.message, /purpose `batch`, not "fine-tune"/);
    const empty = await apiError(
      client.files.create({ file: new File([], "empty.jsonl"), purpose: "batch" }),
    );
    assert.deepEqual([empty.status, empty.param], [400, "file"]);
    assert.match(empty.message, /is empty/);
    const big = await apiError(
      client.files.create({ file: new File(["x".repeat(1001)], "big.jsonl"), purpose: "batch" }),
    );
    assert.deepEqual([big.status, big.type, big.param, big.code], [
      413,
      "invalid_request_error",
      "file",
      "FRAME_TOO_LARGE",
    ]);
    // Streamed without a length: read up to the limit, then refused the same way.
    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(
          new TextEncoder().encode(
            '--b\r\nContent-Disposition: form-data; name="file"; filename="s.jsonl"\r\n\r\n',
          ),
        );
        for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode("y".repeat(100)));
        c.enqueue(
          new TextEncoder().encode(
            '\r\n--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--b--\r\n',
          ),
        );
        c.close();
      },
    });
    const streamed = await fetch(`${http.url}/files`, {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=b" },
      body: chunks,
    });
    assert.equal(streamed.status, 413);
    assert.equal((await streamed.json()).error.code, "FRAME_TOO_LARGE");
    const notForm = await fetch(`${http.url}/files`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    assert.equal(notForm.status, 400);
    assert.match((await notForm.json()).error.message, /multipart\/form-data/);
    assert.deepEqual((await client.files.list()).data, []);
    assert.deepEqual([...Deno.readDirSync(`${root}/openai/files`)], [], "no temp file left");
  });
});
