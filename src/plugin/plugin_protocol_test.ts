import assert from "node:assert/strict";
import { boundedLines, commonVersion, FrameTooLarge, LogRing, PluginFrame } from "./plugin_protocol.ts";

function stream(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((c) => encoder.encode(c)));
}

Deno.test("boundedLines: lines across chunks, several in one chunk, a last one without newline", async () => {
  const lines = await Array.fromAsync(boundedLines(stream(['{"a":', '1}\n{"b":2}\n{"c"', ":3}"]), 64));
  assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
});

Deno.test("boundedLines: a line over the limit throws once the limit is passed, without reading the rest", async () => {
  let pulled = 0;
  const chunk = new Uint8Array(1024).fill(120);
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(chunk);
    },
  });
  const lines = boundedLines(endless, 10 * 1024);
  const e = await lines.next().then(() => null, (e) => e);
  assert.ok(e instanceof FrameTooLarge);
  assert.equal(e.limit, 10 * 1024);
  assert.ok(pulled <= 12, `pulled ${pulled} chunks`);
  const exact = await Array.fromAsync(boundedLines(stream(["x".repeat(8) + "\n"]), 8));
  assert.deepEqual(exact, ["xxxxxxxx"]);
});

Deno.test("LogRing keeps the last bytes and counts the rest", () => {
  const ring = new LogRing(10);
  const encoder = new TextEncoder();
  ring.write(encoder.encode("line one\n"));
  ring.write(encoder.encode("line two\n"));
  assert.equal(ring.text(), "\nline two\n");
  assert.equal(ring.dropped, 8);
  ring.write(encoder.encode("0123456789ABCDEF"));
  assert.equal(ring.text(), "6789ABCDEF");
  assert.equal(ring.tail(1), "6789ABCDEF");
});

Deno.test("commonVersion: the highest both speak, or null", () => {
  assert.equal(commonVersion([1, 2], [2, 3]), 2);
  assert.equal(commonVersion([1], [99]), null);
});

Deno.test("PluginFrame: each kind a plugin sends; others refused", () => {
  assert.ok(PluginFrame.safeParse({ type: "progress", id: 1, data: { step: 1 } }).success);
  assert.ok(
    PluginFrame.safeParse({
      type: "error",
      id: 1,
      error: { kind: "denied", message: "m", permission: "net" },
    }).success,
  );
  assert.ok(!PluginFrame.safeParse({ type: "call", id: 1, hook: "x" }).success);
  assert.ok(!PluginFrame.safeParse({ type: "result", id: -1, value: 1 }).success);
});
