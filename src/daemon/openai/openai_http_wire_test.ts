/**
 * The OpenAI-compatible front's behaviour under load and on the wire: cancellation by clients that leave,
 * the full queue, draining, refusals, SSE framing — the official `openai` client and plain `fetch`.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { LocalRouter } from "../../../tests/support/local_router.ts";
import { apiError, MODEL, PROMPT, until, withFront } from "../../../tests/support/openai_front.ts";
import { isLodeError } from "../../errors.ts";
import { AdmissionQueue } from "../server/admission_queue.ts";
import { startOpenAiHttp } from "./openai_http.ts";

Deno.test("a client that aborts mid-stream cancels the generation", async () => {
  await withFront({ tokenDelayMs: 20 }, async ({ client, queue, records }) => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Tell me a long story." }],
      max_tokens: 400,
      stream: true,
    });
    let chunks = 0;
    for await (const _ of stream) {
      if (++chunks === 4) {
        assert.equal(queue.stats().running, 1);
        stream.controller.abort();
      }
    }
    await until("the generation to stop", () => queue.stats().running === 0 && records.length === 1);
    // Stopped by the client's leaving, not run to its end (that would be outcome ok).
    assert.equal(records[0]!.outcome, "error");
    assert.equal(records[0]!.code, "CANCELLED");
    // The slot is free: the next request runs at once.
    const next = await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 3 });
    assert.equal(next.usage!.completion_tokens, 3);
  });
});

Deno.test("a full queue answers 429 QUEUE_FULL at once; a draining front 503 DRAINING", async () => {
  await withFront({ maxQueue: 0, tokenDelayMs: 20 }, async ({ client, http, queue }) => {
    const busy = await client.completions.create({
      model: MODEL,
      prompt: PROMPT,
      max_tokens: 400,
      stream: true,
    });
    const iterator = busy[Symbol.asyncIterator]();
    await iterator.next();
    assert.equal(queue.stats().running, 1);
    const full = await apiError(client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 5 }));
    assert.ok(full instanceof OpenAI.RateLimitError);
    assert.equal(full.status, 429);
    assert.equal(full.code, "QUEUE_FULL");
    assert.equal(full.headers.get("retry-after"), "1");
    // At once: refused while the request it would wait for still runs.
    assert.equal(queue.stats().running, 1);

    const draining = http.drain({ graceMs: 50 });
    const refused = await apiError(
      new OpenAI({ baseURL: http.url, apiKey: "unused" }).completions.create({ model: MODEL, prompt: "x" }),
    );
    assert.equal(refused.status, 503);
    assert.equal(refused.code, "DRAINING");
    assert.equal(await draining, 1, "the running stream is stopped when the grace period ends");
    const rest = [];
    try {
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value);
      assert.fail("the stopped stream ends with an error event");
    } catch (e) {
      assert.ok(e instanceof OpenAI.APIError);
      assert.match(String(e.message), /grace period/);
    }
  });
});

Deno.test("startOpenAiHttp refuses a non-loopback address", () => {
  const router = new LocalRouter({ models: {} });
  const queue = new AdmissionQueue({ maxQueue: 1, parallel: 1 });
  assert.throws(
    () => startOpenAiHttp({ hostname: "0.0.0.0", port: 0, router, queue }),
    (e) => isLodeError(e, "USAGE"),
  );
});

Deno.test("startOpenAiHttp on a port in use is a USAGE error naming the address", () => {
  const router = new LocalRouter({ models: {} });
  const queue = new AdmissionQueue({ maxQueue: 1, parallel: 1 });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const { port } = taken.addr as Deno.NetAddr;
    assert.throws(
      () => startOpenAiHttp({ hostname: "127.0.0.1", port, router, queue }),
      (e) => isLodeError(e, "USAGE") && e.message.startsWith(`--http 127.0.0.1:${port}: `),
    );
  } finally {
    taken.close();
  }
});

Deno.test("the wire: SSE framing, unknown paths, wrong methods, bad JSON, the API key", async () => {
  await withFront({ apiKey: "s3cret" }, async ({ http }) => {
    const auth = { authorization: "Bearer s3cret" };
    const post = (path: string, body: string, headers: Record<string, string> = auth) =>
      fetch(`${http.url}${path}`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json", ...headers },
      });

    const sse = await post(
      "/completions",
      JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: 5, temperature: 0, stream: true }),
    );
    assert.equal(sse.status, 200);
    assert.match(sse.headers.get("content-type")!, /^text\/event-stream/);
    const events = (await sse.text()).split("\n\n").filter((e) => e !== "");
    assert.ok(events.every((e) => e.startsWith("data: ")), "every event is one data line");
    assert.equal(events.at(-1), "data: [DONE]");
    const last = JSON.parse(events.at(-2)!.slice(6));
    assert.equal(last.choices[0].finish_reason, "length");

    const unauthorized = await fetch(`${http.url}/models`);
    assert.equal(unauthorized.status, 401);
    assert.equal((await unauthorized.json()).error.code, "ACCESS_DENIED");

    const unknown = await fetch(`${http.url}/audio/speech`, { method: "POST", headers: auth });
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.code, "UNKNOWN_OP");

    const wrongMethod = await fetch(`${http.url}/chat/completions`, { headers: auth });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get("allow"), "POST");
    await wrongMethod.body?.cancel();

    const badJson = await post("/chat/completions", "{nope");
    assert.equal(badJson.status, 400);
    assert.equal((await badJson.json()).error.code, "BAD_JSON");

    const foreign = await post("/embeddings", JSON.stringify({ model: MODEL, input: "x" }), {
      ...auth,
      origin: "https://evil.example",
    });
    assert.equal(foreign.status, 403);
    await foreign.body?.cancel();
  });
});

Deno.test("a client that leaves while its request waits in the queue takes it out of the queue", async () => {
  await withFront({ tokenDelayMs: 20 }, async ({ client, queue, records }) => {
    const busy = await client.completions.create({
      model: MODEL,
      prompt: PROMPT,
      max_tokens: 400,
      stream: true,
    });
    const iterator = busy[Symbol.asyncIterator]();
    await iterator.next();
    const leaving = new AbortController();
    const waiting = client.completions.create(
      { model: MODEL, prompt: PROMPT, max_tokens: 5 },
      { signal: leaving.signal },
    );
    await until("the second request to wait", () => queue.stats().queued === 1);
    leaving.abort();
    await assert.rejects(waiting, OpenAI.APIUserAbortError);
    await until("the queue to forget it", () => queue.stats().queued === 0 && records.length === 1);
    assert.equal(records[0]!.code, "CANCELLED");
    assert.equal(queue.stats().running, 1, "the running stream goes on");
    busy.controller.abort();
    await until("the stream to stop", () => queue.stats().running === 0);
  });
});
