/**
 * `/v1/batches` through the official `openai` client on a real front on 127.0.0.1, with the daemon's jobs
 * over a store in a temp directory and no model: without a batch effect the job fails
 * `JOB_NOT_IMPLEMENTED`; with one that waits to be cancelled it stays in progress. What is checked at
 * create (its fields, the input file: mixed models, bad lines, another endpoint, an empty or unknown file),
 * how a failed job shows, list pages, retrieve and cancel of unknown or ended batches, cancelling, expiry
 * past the 24 h window (on a clock the test moves), and records read back by a new service. Batches run on
 * the model: tests/serve_http_batch_test.ts.
 */
import assert from "node:assert/strict";
import { EventStream } from "../../events/event_stream.ts";
import { ModelStore } from "../../store/model_store.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import { apiError, withFront, type World } from "../../../tests/support/openai_front.ts";
import { DaemonJobs } from "../jobs/daemon_jobs.ts";
import type { BatchEffect, JobEffects } from "../../jobs/job_context.ts";
import { type BatchApi, createBatchApi } from "./batches_api.ts";
import { exists } from "../../store/model_store.ts";

const line = (id: string, model = "stories260K", url = "/v1/chat/completions") =>
  JSON.stringify({
    custom_id: id,
    method: "POST",
    url,
    body: { model, messages: [{ role: "user", content: "Hi" }] },
  });

/** A batch effect that answers nothing and ends when its job is cancelled. */
const waitForCancel: BatchEffect = (_spec, { signal }) =>
  new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));

async function withBatches(
  body: (world: World, root: string, api: BatchApi) => Promise<void>,
  o: { effects?: JobEffects; clock?: () => number } = {},
): Promise<void> {
  await withTempDir(async (root) => {
    const store = await ModelStore.open(root);
    const jobs = new DaemonJobs({ store, events: new EventStream(), effects: o.effects ?? {} });
    const batchApi = createBatchApi({ storeRoot: root, jobs, ...(o.clock ? { clock: o.clock } : {}) });
    try {
      await withFront({ batchApi }, (world) => body(world, root, batchApi));
    } finally {
      batchApi.close();
    }
    await jobs.stop();
  }, { prefix: "lode-batches-api-" });
}

async function upload(world: World, text: string, name = "in.jsonl"): Promise<string> {
  return (await world.client.files.create({ file: new File([text], name), purpose: "batch" })).id;
}

Deno.test("batches.create checks its fields; an unknown input file is 404 in OpenAI's shape", async () => {
  await withBatches(async (world) => {
    const { client } = world;
    const id = await upload(world, line("a") + "\n");
    const create = (body: Record<string, unknown>) =>
      apiError(client.batches.create(
        {
          input_file_id: id,
          endpoint: "/v1/chat/completions",
          completion_window: "24h",
          ...body,
        } as Parameters<typeof client.batches.create>[0],
      ));
    for (
      const [body, param] of [
        [{ endpoint: "/v1/responses" }, "endpoint"],
        [{ completion_window: "1h" }, "completion_window"],
        [{ metadata: { k: 1 } }, "metadata"],
        [{ input_file_id: 7 }, "input_file_id"],
      ] as const
    ) {
      const e = await create(body);
      assert.deepEqual(
        [e.status, e.type, e.param],
        [400, "invalid_request_error", param],
        JSON.stringify(body),
      );
    }
    const missing = await create({ input_file_id: "file-nope" });
    assert.deepEqual([missing.status, missing.param, missing.code], [404, "input_file_id", "FILE_NOT_FOUND"]);
    assert.match(missing.message, /No such File object: file-nope/);
    const unknown = await apiError(client.batches.retrieve("batch_nope"));
    assert.deepEqual([unknown.status, unknown.type, unknown.param], [
      404,
      "invalid_request_error",
      "batch_id",
    ]);
    assert.match(unknown.message, /No batch found with id 'batch_nope'/);
    assert.equal((await apiError(client.batches.cancel("batch_nope"))).status, 404);
  });
});

Deno.test("an input with problems makes a failed batch listing them by line, and no job", async () => {
  await withBatches(async (world) => {
    const { client } = world;
    const create = async (text: string, endpoint = "/v1/chat/completions" as const) =>
      await client.batches.create({
        input_file_id: await upload(world, text),
        endpoint,
        completion_window: "24h",
      });
    const mixed = await create([line("a"), line("b", "other"), line("c")].join("\n") + "\n");
    assert.equal(mixed.status, "failed");
    assert.equal(mixed.errors?.object, "list");
    assert.deepEqual(mixed.errors?.data?.map((e) => [e.code, e.line, e.param]), [[
      "BATCH_INVALID",
      2,
      "body.model",
    ]]);
    assert.match(mixed.errors!.data![0]!.message!, /other/);
    assert.equal(mixed.failed_at, mixed.created_at);
    assert.deepEqual([mixed.output_file_id, mixed.error_file_id, mixed.in_progress_at], [null, null, null]);
    const bad = await create([line("a"), "not json", line("a")].join("\n"));
    assert.deepEqual(bad.errors?.data?.map((e) => [e.line, e.param]), [[2, null], [3, "custom_id"]]);
    const other = await create([line("a"), line("b", "stories260K", "/v1/completions")].join("\n"));
    assert.deepEqual(other.errors?.data?.map((e) => e.line), [2]);
    const blank = await create("\n\n");
    assert.equal(blank.status, "failed");
    assert.match(blank.errors!.data![0]!.message!, /no request/);
    assert.equal((await client.batches.retrieve(mixed.id)).status, "failed");
  });
});

Deno.test("a batch whose job fails is failed with the job's error; list pages; cancel of an ended batch is 409", async () => {
  await withBatches(async (world, root) => {
    const { client } = world;
    const input_file_id = await upload(world, line("a") + "\n" + line("b") + "\n");
    const created = await client.batches.create({
      input_file_id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { run: "1" },
    });
    assert.match(created.id, /^batch_/);
    assert.deepEqual(
      [created.object, created.input_file_id, created.completion_window, created.model, created.metadata],
      ["batch", input_file_id, "24h", "stories260K", { run: "1" }],
    );
    assert.deepEqual(created.request_counts, { total: 2, completed: 0, failed: 0 });
    assert.equal(created.expires_at, created.created_at + 24 * 3600);
    let batch = created;
    while (batch.status !== "failed") {
      await new Promise((r) => setTimeout(r, 20));
      batch = await client.batches.retrieve(created.id);
    }
    assert.deepEqual(batch.errors?.data?.map((e) => e.code), ["JOB_NOT_IMPLEMENTED"]);
    assert.equal(typeof batch.failed_at, "number");
    const ended = await apiError(client.batches.cancel(created.id));
    assert.deepEqual([ended.status, ended.code], [409, "JOB_FINISHED"]);

    const more = [];
    for (let i = 0; i < 3; i++) {
      more.push(
        (await client.batches.create({
          input_file_id,
          endpoint: "/v1/chat/completions",
          completion_window: "24h",
        })).id,
      );
    }
    const page = await client.batches.list({ limit: 2 });
    assert.deepEqual(page.data.map((b) => b.id), [more[2], more[1]], "newest first");
    assert.equal(page.has_more, true);
    const all = [];
    for await (const b of client.batches.list({ limit: 2 })) all.push(b.id);
    assert.deepEqual(all, [...more].reverse().concat(created.id));
    // The records are the store's: a new service (a restarted daemon) reads them.
    const jobs = new DaemonJobs({
      store: await ModelStore.open(root),
      events: new EventStream(),
      effects: {},
    });
    const again = createBatchApi({ storeRoot: root, jobs });
    await again.start();
    const retrieved = await again.handle(
      new Request(`http://127.0.0.1/v1/batches/${created.id}`),
      `/v1/batches/${created.id}`,
    );
    assert.equal((await retrieved.json()).status, "failed");
  });
});

Deno.test("cancel: cancelling, then cancelled without an output file; a batch past its 24 h window expires", async () => {
  let now = Date.now();
  await withBatches(async (world) => {
    const { client } = world;
    const input_file_id = await upload(world, line("a") + "\n");
    const params = { input_file_id, endpoint: "/v1/chat/completions", completion_window: "24h" } as const;
    const first = await client.batches.create(params);
    assert.ok(["validating", "in_progress"].includes(first.status), first.status);
    const deleting = await apiError(client.files.delete(input_file_id));
    assert.deepEqual([deleting.status, deleting.param], [400, "file_id"]);
    assert.match(deleting.message, new RegExp(first.id));
    const cancelling = await client.batches.cancel(first.id);
    assert.ok(["cancelling", "cancelled"].includes(cancelling.status), cancelling.status);
    let batch = cancelling;
    while (batch.status !== "cancelled") batch = await client.batches.retrieve(first.id);
    assert.deepEqual([batch.output_file_id, batch.error_file_id], [null, null]);
    assert.ok(batch.cancelled_at! >= batch.cancelling_at!);

    const second = await client.batches.create(params);
    now += 24 * 3600 * 1000;
    batch = await client.batches.retrieve(second.id);
    while (batch.status !== "expired") batch = await client.batches.retrieve(second.id);
    assert.equal(batch.expired_at, Math.floor(now / 1000));
    assert.equal(typeof batch.cancelled_at, "number");
    assert.deepEqual(await client.files.delete(input_file_id), {
      id: input_file_id,
      object: "file",
      deleted: true,
    });
  }, { effects: { batch: waitForCancel }, clock: () => now });
});

Deno.test("a sweep (on a clock the test moves) expires a batch past its window and deletes expired files", async () => {
  let now = Date.now();
  await withBatches(async (world, root, api) => {
    const { client } = world;
    const expiresAfter = { anchor: "created_at" as const, seconds: 3600 };
    const upload = (text: string, expires_after?: typeof expiresAfter) =>
      client.files.create({
        file: new File([text], "in.jsonl"),
        purpose: "batch",
        ...(expires_after ? { expires_after } : {}),
      });
    const bad = await apiError(upload(line("a") + "\n", { anchor: "created_at", seconds: 10 }));
    assert.deepEqual([bad.status, bad.param], [400, "expires_after.seconds"]);
    const loose = await upload(line("a") + "\n", expiresAfter);
    assert.equal(loose.expires_at, loose.created_at + 3600);
    const input = await upload(line("b") + "\n", expiresAfter);
    const kept = await upload(line("c") + "\n");
    assert.equal(kept.expires_at, null);
    const params = {
      input_file_id: input.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    } as const;
    const badOutput = await apiError(
      client.batches.create({ ...params, output_expires_after: { anchor: "created_at", seconds: 1 } }),
    );
    assert.deepEqual([badOutput.status, badOutput.param], [400, "output_expires_after.seconds"]);
    const batch = await client.batches.create({
      ...params,
      output_expires_after: { anchor: "created_at", seconds: 7200 },
    });

    // An hour on, before any sweep: both files with an expires_at are gone to the API — not listed, not
    // retrieved, their content not served, no batch made of them.
    now += 3601 * 1000;
    for (const gone of [loose.id, input.id]) {
      assert.equal((await apiError(client.files.retrieve(gone))).status, 404);
      assert.equal((await apiError(client.files.content(gone))).status, 404);
    }
    assert.deepEqual((await client.files.list()).data.map((f) => f.id), [kept.id]);
    assert.equal((await apiError(client.batches.create({ ...params, input_file_id: loose.id }))).status, 404);
    // The sweep deletes the loose file; the running batch's input stays on disk until the batch ends.
    await api.start();
    assert.equal(await exists(`${root}/openai/files/${loose.id}.data`), false);
    assert.equal(await exists(`${root}/openai/files/${input.id}.data`), true);
    assert.equal((await client.files.retrieve(kept.id)).id, kept.id);

    // A day on: the sweep alone (no retrieve) marks the batch expired and stops its job.
    now += 24 * 3600 * 1000;
    await api.start();
    const record = JSON.parse(await Deno.readTextFile(`${root}/openai/batches/${batch.id}.json`));
    assert.equal(record.expired_at, Math.floor(now / 1000));
    let expired = await client.batches.retrieve(batch.id);
    while (expired.status !== "expired") expired = await client.batches.retrieve(batch.id);
    assert.equal(expired.expires_at, batch.created_at + 24 * 3600);
    // Ended: its expired input goes at the next sweep; the file without expires_at stays.
    await api.start();
    assert.equal(await exists(`${root}/openai/files/${input.id}.data`), false);
    assert.equal((await client.files.retrieve(kept.id)).id, kept.id);
  }, { effects: { batch: waitForCancel }, clock: () => now });
});
