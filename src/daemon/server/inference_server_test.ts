import assert from "node:assert/strict";
import { LocalRouter, STORIES } from "../../../tests/support/local_router.ts";
import { type Frame, FrameClient, terminal, tokenText } from "../../../tests/support/frame_client.ts";
import type { ActivityRecord } from "./activity_log.ts";
import { AdmissionQueue } from "./admission_queue.ts";
import { InferenceServer } from "./inference_server.ts";
import { listenUnixSocket } from "../wire/socket_path.ts";

const STORY =
  ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";

interface World {
  path: string;
  server: InferenceServer;
  router: LocalRouter;
  queue: AdmissionQueue;
  records: ActivityRecord[];
  connect(): Promise<FrameClient>;
}

async function withServer(
  options: { maxQueue?: number; parallel?: number; maxLineBytes?: number; tokenDelayMs?: number },
  body: (world: World) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-inf-" });
  const socket = await listenUnixSocket(`${dir}/lode.sock`);
  const router = new LocalRouter({
    models: { stories260K: STORIES },
    tokenDelayMs: options.tokenDelayMs ?? 0,
  });
  const queue = new AdmissionQueue({ maxQueue: options.maxQueue ?? 64, parallel: options.parallel ?? 1 });
  const records: ActivityRecord[] = [];
  const server = new InferenceServer({
    router,
    queue,
    loaded: () => router.loadedNames(),
    onActivity: (r) => records.push(r),
    ...(options.maxLineBytes ? { maxLineBytes: options.maxLineBytes } : {}),
  });
  const serving = server.serve(socket.listener);
  const clients: FrameClient[] = [];
  try {
    await body({
      path: socket.path,
      server,
      router,
      queue,
      records,
      connect: async () => {
        const c = await FrameClient.connect(socket.path);
        clients.push(c);
        return c;
      },
    });
  } finally {
    for (const c of clients) c.close();
    await server.drain({ graceMs: 0 });
    await server.close({ graceMs: 100 });
    await socket.close();
    await serving;
    await Promise.all(clients.map((c) => c.ended));
    await router.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A generation that runs until cancelled (it would take minutes). */
const long = (id: string) => ({
  id,
  op: "generate",
  model: "stories260K",
  prompt: "Once",
  max_tokens: 100_000,
});

/** The frame types of a request, without the `loading` frames of a load it waited for (tested on their own). */
const types = (frames: Frame[]) => frames.filter((f) => f.type !== "loading").map((f) => f.type);

Deno.test("round trips: health, tokenize, generate, chat, embed, models, load, unload", async () => {
  await withServer({}, async ({ connect, records }) => {
    const c = await connect();
    await c.write({ id: "h1", op: "health" });
    const health = await c.frames("h1");
    assert.deepEqual(types(health), ["health", "done"]);
    assert.equal(health[0]!.protocol, 1);
    assert.equal(health[0]!.status, "ready");

    await c.write({ id: "t1", op: "tokenize", model: "stories260K", text: "Once upon a time" });
    const tokens = await c.frames("t1");
    // The first request of the model waited for its load, and was told its phases.
    assert.deepEqual(tokens.map((f) => f.phase ?? f.type), ["mmap", "kv_cache", "tokens", "done"]);
    assert.ok(tokens.filter((f) => f.type === "loading").every((f) => f.id === "t1"));
    assert.ok((tokens.at(-2)!.tokens as number[]).length > 0);

    await c.write({ id: "d1", op: "detokenize", model: "stories260K", tokens: tokens.at(-2)!.tokens });
    assert.deepEqual(await c.frames("d1"), [
      { id: "d1", type: "text", text: "Once upon a time" },
      { id: "d1", type: "done" },
    ]);
    await c.write({ id: "d2", op: "detokenize", model: "stories260K", tokens: [1, 512] });
    const bad = terminal(await c.frames("d2"));
    assert.equal(bad.code, "BAD_REQUEST");
    assert.deepEqual(bad.details, { field: "tokens.1", index: 1, vocabulary_size: 512 });

    await c.write({
      id: "g1",
      op: "generate",
      model: "stories260K",
      prompt: "Once upon a time",
      max_tokens: 40,
      temperature: 0,
    });
    const gen = await c.frames("g1");
    assert.equal(tokenText(gen), STORY);
    const done = terminal(gen);
    assert.equal(done.type, "done");
    assert.equal(done.stop_reason, "max_tokens");
    const usage = done.usage as Record<string, number>;
    assert.equal(usage.completion_tokens, 40);
    assert.equal(typeof usage.queue_ms, "number");

    await c.write({
      id: "c1",
      op: "chat",
      model: "stories260K",
      messages: [{ role: "user", content: "Tell me a story" }],
      max_tokens: 8,
      temperature: 0,
    });
    const chat = await c.frames("c1");
    assert.equal(terminal(chat).type, "done");
    assert.ok(tokenText(chat).length > 0);

    await c.write({ id: "e1", op: "embed", model: "stories260K", input: ["a red ball", "a blue ball"] });
    const emb = await c.frames("e1");
    assert.deepEqual(types(emb), ["embeddings", "done"]);
    assert.equal((emb[0]!.embeddings as number[][]).length, 2);

    await c.write({ id: "m1", op: "models" });
    const models = (await c.frames("m1"))[0]!.models as { name: string; loaded: boolean }[];
    assert.deepEqual(models.map((m) => [m.name, m.loaded]), [["stories260K", true]]);

    await c.write({ id: "l1", op: "load", model: "stories260K" });
    const loaded = (await c.frames("l1"))[0]!;
    assert.equal(loaded.type, "loaded");
    assert.equal((loaded.info as Record<string, unknown>).has_chat_template, false);

    await c.write({ id: "u1", op: "unload", model: "stories260K" });
    assert.equal((await c.frames("u1"))[0]!.was_loaded, true);

    await c.write({ id: "x", op: "tokenize", model: "nope", text: "a" });
    assert.equal(terminal(await c.frames("x")).code, "MODEL_NOT_FOUND");

    const byId = Object.fromEntries(records.map((r) => [r.request_id, r]));
    assert.equal(byId.g1!.completion_tokens, 40);
    assert.equal(byId.g1!.outcome, "ok");
    assert.equal(byId.x!.code, "MODEL_NOT_FOUND");
    assert.equal(byId.h1, undefined, "health is not logged");
  });
});

Deno.test("garbage, oversized and half-written frames get error frames; the connection stays up", async () => {
  await withServer({ maxLineBytes: 1024 }, async ({ connect }) => {
    const c = await connect();
    await c.write("this is not json\n");
    await c.write('{"id":"big","op":"tokenize","model":"stories260K","text":"' + "a".repeat(5000) + '"}\n');
    await c.write('{"id":"u","op":"explode"}\n');
    await c.write('{"id":"m","op":"generate","model":"stories260K"}\n');
    await c.write("[1,2]\n");
    await c.write(new Uint8Array([0xff, 0xfe, 10]).reduce((s, b) => s + String.fromCharCode(b), ""));
    // Half a frame, a pause, then the rest.
    await c.write('{"id":"half","op":"hea');
    await new Promise((r) => setTimeout(r, 50));
    await c.write('lth"}\n');
    assert.equal(terminal(await c.frames("big")).code, "FRAME_TOO_LARGE");
    assert.equal(terminal(await c.frames("u")).code, "UNKNOWN_OP");
    const missing = terminal(await c.frames("m"));
    assert.equal(missing.code, "BAD_REQUEST");
    assert.equal(missing.message, "generate request is invalid at prompt: missing (expected a string)");
    assert.deepEqual(missing.details, {
      field: "prompt",
      issues: [{
        path: "prompt",
        expected: "a string",
        received: "nothing",
        message: "missing (expected a string)",
      }],
    });
    assert.deepEqual(types(await c.frames("half")), ["health", "done"]);
    await c.until(() => c.anonymous.length >= 3);
    assert.deepEqual(c.anonymous.map((f) => f.code), ["BAD_JSON", "BAD_REQUEST", "BAD_JSON"]);
    assert.deepEqual(c.invalid, []);
    // A last line without its newline, then a half-close: still answered, then the daemon closes.
    await c.write('{"id":"last","op":"tokenize","model":"stories260K","text":"hi"}');
    await c.closeWrite();
    assert.deepEqual(types(await c.frames("last")), ["tokens", "done"]);
    await c.ended;
  });
});

Deno.test("many requests multiplexed on one connection; a duplicate in-flight id is refused", async () => {
  await withServer({ parallel: 1, tokenDelayMs: 2 }, async ({ connect }) => {
    const c = await connect();
    const gen = (id: string, n: number) => ({
      id,
      op: "generate",
      model: "stories260K",
      prompt: "Once upon a time",
      max_tokens: n,
      temperature: 0,
    });
    await c.write(gen("a", 200));
    await c.write(gen("a", 5));
    await c.write(gen("b", 40));
    await c.write({ id: "t", op: "tokenize", model: "stories260K", text: "Once" });
    const dup = c.frames("a");
    const [b, t] = await Promise.all([c.frames("b"), c.frames("t")]);
    assert.equal(tokenText(b), STORY);
    assert.deepEqual(types(t), ["tokens", "done"]);
    const a = await dup;
    // The first "a" streams on; the duplicate was refused with an error frame carrying the id.
    const error = a.find((f) => f.type === "error");
    assert.equal(error?.code, "BAD_REQUEST");
    assert.deepEqual((error?.details as Record<string, unknown>).field, "id");
  });
});

Deno.test("queue: positions while waiting, QUEUE_FULL at once beyond --max-queue, cancel queued and running", async () => {
  await withServer({ maxQueue: 2, parallel: 1, tokenDelayMs: 10 }, async ({ connect, queue, records }) => {
    const c = await connect();
    await c.write(long("r1"));
    await c.until(() => c.sofar("r1").some((f) => f.type === "token"));
    await c.write(long("q1"));
    await c.write(long("q2"));
    await c.write(long("full"));
    const full = await c.frames("full");
    assert.deepEqual(types(full), ["error"]);
    assert.equal(full[0]!.code, "QUEUE_FULL");
    assert.deepEqual(c.sofar("q1").map((f) => f.position), [1]);
    assert.deepEqual(c.sofar("q2").map((f) => f.position), [2]);
    assert.equal(queue.stats().queued, 2);

    await c.write({ id: "x1", op: "cancel", target: "q1" });
    assert.deepEqual((await c.frames("x1"))[0], {
      id: "x1",
      type: "cancelled",
      target: "q1",
      state: "queued",
    });
    assert.equal(terminal(await c.frames("q1")).code, "CANCELLED");
    await c.until(() => c.sofar("q2").length === 2);
    assert.deepEqual(c.sofar("q2").map((f) => f.position), [2, 1]);

    await c.write({ id: "x2", op: "cancel", target: "r1" });
    assert.equal((await c.frames("x2"))[0]!.state, "running");
    assert.equal(terminal(await c.frames("r1")).code, "CANCELLED");
    // q2 runs now; cancel it too.
    await c.until(() => c.sofar("q2").some((f) => f.type === "token"));
    await c.write({ id: "x3", op: "cancel", target: "q2" });
    assert.equal(terminal(await c.frames("q2")).code, "CANCELLED");
    await c.write({ id: "x4", op: "cancel", target: "r1" });
    assert.equal((await c.frames("x4"))[0]!.state, "not_found");
    const q2 = records.find((r) => r.request_id === "q2")!;
    assert.ok(q2.duration_ms > 0);
    assert.equal(q2.code, "CANCELLED");
  });
});

Deno.test("a client that disconnects cancels its running and queued requests", async () => {
  await withServer({ parallel: 1, tokenDelayMs: 10 }, async ({ connect, server, queue, records }) => {
    const c = await connect();
    await c.write(long("r"));
    await c.write(long("q"));
    await c.until(() => c.sofar("r").some((f) => f.type === "token"));
    c.close();
    const deadline = Date.now() + 5000;
    while (server.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.inFlight, 0);
    assert.deepEqual(queue.stats(), { queued: 0, running: 0, models: {} });
    assert.deepEqual(records.map((r) => [r.request_id, r.code]).sort(), [["q", "CANCELLED"], [
      "r",
      "CANCELLED",
    ]]);
  });
});

Deno.test("a client that goes away while its request only waits in the queue is noticed at once", async () => {
  await withServer({ parallel: 1, tokenDelayMs: 10 }, async ({ connect, server, queue, records }) => {
    const running = await connect();
    const waiting = await connect();
    await running.write(long("r"));
    await running.until(() => running.sofar("r").some((f) => f.type === "token"));
    await waiting.write(long("q"));
    await waiting.until(() => waiting.sofar("q").some((f) => f.type === "queued"));
    waiting.close(); // nothing is written to it while "r" runs: only the end of its input tells
    const deadline = Date.now() + 2000;
    while (queue.stats().queued > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(queue.stats().queued, 0, "the waiting request left the queue");
    assert.equal(server.inFlight, 1, "the other client's request still runs");
    assert.deepEqual(records.map((r) => [r.request_id, r.code]), [["q", "CANCELLED"]]);
    assert.ok(running.sofar("r").every((f) => f.type !== "error" && f.type !== "done"));
  });
});

Deno.test("a client that half-closes while its request waits still gets every answer", async () => {
  await withServer({ parallel: 1 }, async ({ connect, queue }) => {
    const running = await connect();
    const waiting = await connect();
    await running.write(long("r"));
    await running.until(() => running.sofar("r").some((f) => f.type === "token"));
    await waiting.write({ ...long("q"), max_tokens: 40 });
    await waiting.until(() => waiting.sofar("q").some((f) => f.type === "queued"));
    await waiting.closeWrite();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(queue.stats().queued, 1, "still waiting: the client only half-closed");
    await running.write({ id: "c", op: "cancel", target: "r" });
    const frames = await waiting.frames("q");
    assert.equal(terminal(frames).type, "done", JSON.stringify(frames));
    assert.equal(frames.filter((f) => f.type === "token").length, 40);
  });
});

Deno.test("drain: in-flight requests finish, new ones get DRAINING, health says draining; the rest is stopped after the grace", async () => {
  await withServer({ parallel: 1 }, async ({ connect, server }) => {
    const c = await connect();
    await c.write({
      id: "g",
      op: "generate",
      model: "stories260K",
      prompt: "Once upon a time",
      max_tokens: 40,
      temperature: 0,
    });
    await c.until(() => c.sofar("g").some((f) => f.type === "token"));
    const draining = server.drain({ graceMs: 10_000 });
    await c.write({ id: "new", op: "tokenize", model: "stories260K", text: "hi" });
    await c.write({ id: "h", op: "health" });
    assert.equal(terminal(await c.frames("new")).code, "DRAINING");
    assert.equal((await c.frames("h"))[0]!.status, "draining");
    assert.equal(tokenText(await c.frames("g")), STORY);
    assert.equal(await draining, 0);
  });
  await withServer({ parallel: 1, tokenDelayMs: 10 }, async ({ connect, server }) => {
    const c = await connect();
    await c.write({ id: "g", op: "generate", model: "stories260K", prompt: "Once", max_tokens: 100_000 });
    await c.until(() => c.sofar("g").some((f) => f.type === "token"));
    assert.equal(await server.drain({ graceMs: 100 }), 1);
    assert.equal(terminal(await c.frames("g")).code, "DRAINING");
  });
});
