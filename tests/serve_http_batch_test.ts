/**
 * OpenAI's Batch API on a real `lode serve --http` (stories260K, threads 1) through the official `openai`
 * client: files.create, batches.create, batches.retrieve until completed, files.content (each custom_id
 * answered once), batches.list; batches.cancel (finished results kept, status cancelled); a daemon
 * killed (SIGKILL) mid-batch and started again on the same store finishes it; and bad input — a wrong purpose, an
 * empty file, an unknown file id, an upload declared over 200 MB, mixed models.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { type ServeProcess, startServe, storeWithStories } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { freePort, untilUp } from "./support/free_port.ts";

const MODEL = "stories260K";
type Batch = OpenAI.Batches.Batch;

/** `n` chat requests, `custom_id` `r0`…, each asking for `maxTokens` tokens. */
function chatLines(n: number, maxTokens: number, model = MODEL): string {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      custom_id: `r${i}`,
      method: "POST",
      url: "/v1/chat/completions",
      body: { model, messages: [{ role: "user", content: `Once upon a time ${i}` }], max_tokens: maxTokens },
    })).join("\n") + "\n";
}

interface Daemon {
  url: string;
  client: OpenAI;
  process: ServeProcess;
}

async function serve(dir: string, store: string, port: number): Promise<Daemon> {
  const process = await startServe(dir, store, ["--http", `127.0.0.1:${port}`]);
  const url = `http://127.0.0.1:${port}/v1`;
  await untilUp(url);
  return { url, process, client: new OpenAI({ baseURL: url, apiKey: "unused", maxRetries: 0 }) };
}

async function withServe(body: (daemon: Daemon, dir: string, store: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const daemon = await serve(dir, store, freePort());
    try {
      await body(daemon, dir, store);
    } finally {
      const end = await daemon.process.stop();
      assert.equal(end.code, 0, end.stderr);
    }
  }, { prefix: "lode-serve-batch-" });
}

/** Retrieves `id` until `done` holds. */
async function until(client: OpenAI, id: string, done: (b: Batch) => boolean): Promise<Batch> {
  while (true) {
    const batch = await client.batches.retrieve(id);
    if (done(batch)) return batch;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ENDED = ["completed", "failed", "cancelled", "expired"];

/** The lines of file `id`, parsed. */
async function lines(client: OpenAI, id: string): Promise<Record<string, unknown>[]> {
  const text = await (await client.files.content(id)).text();
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

/** One HTTP/1.1 answer read from `conn`: its head and its `Content-Length` bytes of body. */
async function readAnswer(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) return text;
    text += new TextDecoder().decode(buffer.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    const length = /content-length: (\d+)/i.exec(text)?.[1];
    if (end !== -1 && length !== undefined && text.length >= end + 4 + Number(length)) return text;
  }
}

/** OpenAI's batch usage summed over the answer lines `results` (their bodies' `usage`). */
function usageOf(results: Record<string, unknown>[]): OpenAI.Batches.BatchUsage {
  let input = 0;
  let output = 0;
  for (const r of results) {
    const usage = (r.response as { body: { usage: OpenAI.CompletionUsage } }).body.usage;
    input += usage.prompt_tokens;
    output += usage.completion_tokens;
  }
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + output,
  };
}

async function upload(client: OpenAI, text: string, name = "in.jsonl"): Promise<OpenAI.Files.FileObject> {
  return await client.files.create({ file: new File([text], name), purpose: "batch" });
}

Deno.test("lode serve --http: a batch through the openai client, from upload to output file", async () => {
  await withServe(async ({ client }) => {
    const input = await upload(client, chatLines(6, 8));
    assert.deepEqual([input.object, input.purpose, input.filename], ["file", "batch", "in.jsonl"]);
    const created = await client.batches.create({
      input_file_id: input.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { run: "sdk" },
    });
    assert.ok(["validating", "in_progress"].includes(created.status), created.status);
    assert.equal(created.model, MODEL);
    const batch = await until(client, created.id, (b) => ENDED.includes(b.status));
    assert.equal(batch.status, "completed", JSON.stringify(batch.errors));
    assert.deepEqual(batch.request_counts, { total: 6, completed: 6, failed: 0 });
    assert.equal(batch.error_file_id, null);
    for (const at of [batch.in_progress_at, batch.finalizing_at, batch.completed_at]) {
      assert.ok(typeof at === "number" && at >= batch.created_at);
    }
    const output = await client.files.retrieve(batch.output_file_id!);
    assert.equal(output.purpose, "batch_output");
    const results = await lines(client, output.id);
    assert.deepEqual(results.map((r) => r.custom_id).sort(), ["r0", "r1", "r2", "r3", "r4", "r5"]);
    for (const r of results) {
      const response = r.response as { status_code: number; body: OpenAI.ChatCompletion };
      assert.equal(r.error, null);
      assert.equal(response.status_code, 200);
      assert.equal(response.body.object, "chat.completion");
      assert.ok(response.body.choices[0]!.message.content!.length > 0);
    }
    // `usage`: the answers' tokens summed, in the client's BatchUsage shape.
    const usage: OpenAI.Batches.BatchUsage | undefined = batch.usage;
    assert.deepEqual(usage, usageOf(results));
    assert.ok(usage!.output_tokens > 0);
    const listed = [];
    for await (const b of client.batches.list()) listed.push([b.id, b.usage]);
    assert.deepEqual(listed, [[batch.id, usage]]);
    const files = [];
    for await (const f of client.files.list()) files.push([f.id, f.purpose]);
    assert.deepEqual(files, [[output.id, "batch_output"], [input.id, "batch"]]);
  });
});

Deno.test("lode serve --http: batches.cancel keeps the finished results; status cancelled", async () => {
  await withServe(async ({ client }) => {
    const input = await upload(client, chatLines(128, 200));
    const created = await client.batches.create({
      input_file_id: input.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    await until(client, created.id, (b) => (b.request_counts?.completed ?? 0) >= 2);
    const deleting = await client.files.delete(input.id).then(
      () => null,
      (e) => e as InstanceType<typeof OpenAI.APIError>,
    );
    assert.equal(deleting?.status, 400, "the input of a running batch is kept");
    const cancelling = await client.batches.cancel(created.id);
    assert.ok(["cancelling", "cancelled"].includes(cancelling.status), cancelling.status);
    assert.equal(typeof cancelling.cancelling_at, "number");
    const batch = await until(client, created.id, (b) => ENDED.includes(b.status));
    assert.equal(batch.status, "cancelled");
    assert.equal(typeof batch.cancelled_at, "number");
    const { completed, total } = batch.request_counts!;
    assert.ok(completed >= 2 && completed < total, `${completed} of ${total}`);
    const results = await lines(client, batch.output_file_id!);
    const ids = results.map((r) => r.custom_id as string);
    assert.equal(ids.length, completed);
    assert.equal(new Set(ids).size, ids.length, "each custom_id answered once");
    assert.deepEqual(batch.usage, usageOf(results));
    const again = await client.batches.cancel(created.id);
    assert.equal(again.status, "cancelled");
  });
});

Deno.test("lode serve --http: a daemon killed mid-batch and started again finishes it", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const port = freePort();
    let daemon = await serve(dir, store, port);
    let id: string;
    try {
      const input = await upload(daemon.client, chatLines(48, 120));
      id = (await daemon.client.batches.create({
        input_file_id: input.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
      })).id;
      await until(daemon.client, id, (b) => (b.request_counts?.completed ?? 0) >= 2);
    } finally {
      // Killed outright: its job is left `running` on disk, its process gone (it reads `interrupted`).
      await daemon.process.stop("SIGKILL");
    }
    daemon = await serve(dir, store, port);
    try {
      const batch = await until(daemon.client, id, (b) => ENDED.includes(b.status));
      assert.equal(batch.status, "completed", JSON.stringify(batch.errors));
      assert.deepEqual(batch.request_counts, { total: 48, completed: 48, failed: 0 });
      const answers = await lines(daemon.client, batch.output_file_id!);
      const ids = answers.map((r) => r.custom_id as string);
      assert.equal(ids.length, 48);
      // The usage counts the killed daemon's answers too.
      assert.deepEqual(batch.usage, usageOf(answers));
      assert.equal(new Set(ids).size, 48, "no custom_id answered twice");
      // The run that finished it skipped what the killed one had answered.
      const results = [];
      for await (const entry of Deno.readDir(`${store}/jobs`)) {
        if (!entry.isDirectory) continue;
        const record = JSON.parse(await Deno.readTextFile(`${store}/jobs/${entry.name}/record.json`));
        if (record.state === "succeeded") results.push(record.result);
      }
      assert.equal(results.length, 1);
      assert.ok(results[0].skipped >= 2, JSON.stringify(results[0]));
    } finally {
      const end = await daemon.process.stop();
      assert.equal(end.code, 0, end.stderr);
    }
  }, { prefix: "lode-serve-batch-" });
});

Deno.test("lode serve --http: bad input to the Files and Batch APIs, in OpenAI's error shape", async () => {
  await withServe(async ({ client, url }) => {
    const error = (p: Promise<unknown>) =>
      p.then(() => assert.fail("answered"), (e) => e as InstanceType<typeof OpenAI.APIError>);
    const purpose = await error(
      client.files.create({ file: new File([chatLines(1, 4)], "in.jsonl"), purpose: "assistants" }),
    );
    assert.deepEqual([purpose.status, purpose.type, purpose.param], [
      400,
      "invalid_request_error",
      "purpose",
    ]);
    const empty = await error(client.files.create({ file: new File([], "empty.jsonl"), purpose: "batch" }));
    assert.deepEqual([empty.status, empty.param], [400, "file"]);
    const unknown = await error(client.files.retrieve("file-nope"));
    assert.deepEqual([unknown.status, unknown.type, unknown.code], [
      404,
      "invalid_request_error",
      "FILE_NOT_FOUND",
    ]);
    const noInput = await error(
      client.batches.create({
        input_file_id: "file-nope",
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
      }),
    );
    assert.deepEqual([noInput.status, noInput.param], [404, "input_file_id"]);
    assert.equal((await error(client.batches.retrieve("batch_nope"))).status, 404);

    // An upload declared over 200 MB is refused before its body is read.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(url).port) });
    const head =
      "POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n" +
      `Content-Length: ${300 * 1024 * 1024}\r\nConnection: close\r\n\r\n--b\r\n`;
    await conn.write(new TextEncoder().encode(head));
    const answer = await readAnswer(conn);
    conn.close();
    assert.match(answer, /^HTTP\/1\.1 413/);
    assert.match(answer, /"code":"FRAME_TOO_LARGE"/);
    assert.match(answer, /"param":"file"/);

    const mixed = await client.batches.create({
      input_file_id:
        (await upload(client, chatLines(2, 4) + chatLines(1, 4, "other").replace("r0", "x0"))).id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    assert.equal(mixed.status, "failed");
    assert.deepEqual(mixed.errors?.data?.map((e) => [e.code, e.line, e.param]), [[
      "BATCH_INVALID",
      3,
      "body.model",
    ]]);
    const missing = await client.batches.create({
      input_file_id: (await upload(client, chatLines(2, 4, "absent"))).id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const failed = await until(client, missing.id, (b) => ENDED.includes(b.status));
    assert.equal(failed.status, "failed");
    assert.equal(failed.errors?.data?.[0]?.code, "MODEL_NOT_FOUND", JSON.stringify(failed.errors));
  });
});
