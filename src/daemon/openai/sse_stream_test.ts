import assert from "node:assert/strict";
import { SseStream } from "./sse_stream.ts";

const decoder = new TextDecoder();

Deno.test("SseStream writes data events and comments, then ends", async () => {
  const sse = new SseStream();
  sse.comment("queued\nposition 2");
  sse.send({ text: "Once" });
  sse.send("[DONE]");
  sse.close();
  sse.send({ text: "after close is dropped" });
  const text = await new Response(sse.body).text();
  assert.equal(text, ': queued position 2\n\ndata: {"text":"Once"}\n\ndata: [DONE]\n\n');
  assert.equal(sse.closed, true);
});

Deno.test("SseStream.ready waits while the reader is behind, and resolves as it reads", async () => {
  const sse = new SseStream({ highWaterMark: 64 });
  sse.send("x".repeat(100));
  let ready = false;
  const waiting = sse.ready().then(() => ready = true);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(ready, false);
  const reader = sse.body.getReader();
  const first = await reader.read();
  assert.match(decoder.decode(first.value), /^data: x+\n\n$/);
  await waiting;
  assert.equal(ready, true);
  sse.close();
  assert.equal((await reader.read()).done, true);
});

Deno.test("a reader that cancels is reported once, wakes the writer, and drops later writes", async () => {
  const reasons: unknown[] = [];
  const sse = new SseStream({ highWaterMark: 16, onCancel: (r) => reasons.push(r) });
  sse.send("a long event that fills the queue");
  const waiting = sse.ready();
  await sse.body.cancel("gone");
  await waiting;
  sse.send("dropped");
  sse.close();
  assert.deepEqual(reasons, ["gone"]);
  assert.equal(sse.closed, true);
  await sse.ready();
});
