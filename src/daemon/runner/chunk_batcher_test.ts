import assert from "node:assert/strict";
import { ChunkBatcher } from "./chunk_batcher.ts";

function world(flushMs: number) {
  let now = 100;
  const sent: [number, string[]][] = [];
  const batcher = new ChunkBatcher((id, texts) => sent.push([id, texts]), { flushMs, now: () => now });
  return { batcher, sent, at: (t: number) => (now = 100 + t) };
}

Deno.test("the first chunk goes at once; chunks within flushMs go with the first one after it", () => {
  const { batcher, sent, at } = world(4);
  batcher.push(1, "Once");
  assert.deepEqual(sent, [[1, ["Once"]]]);
  at(1);
  batcher.push(1, " upon");
  at(3);
  batcher.push(1, " a");
  assert.equal(sent.length, 1, "held");
  at(4);
  batcher.push(1, " time");
  assert.deepEqual(sent, [[1, ["Once"]], [1, [" upon", " a", " time"]]]);
  at(9); // a quiet period: the next chunk goes at once again
  batcher.push(1, ",");
  assert.deepEqual(sent.at(-1), [1, [","]]);
});

Deno.test("flush sends what is held, per request, in order; nothing held sends nothing", () => {
  const { batcher, sent, at } = world(4);
  batcher.push(1, "a");
  batcher.push(2, "x"); // the first chunk of request 2: at once too
  at(1);
  batcher.push(1, "b");
  batcher.push(2, "y");
  batcher.push(1, "c");
  batcher.flush();
  assert.deepEqual(sent, [[1, ["a"]], [2, ["x"]], [1, ["b", "c"]], [2, ["y"]]]);
  batcher.flush();
  assert.equal(sent.length, 4);
});

Deno.test("a request's first chunk goes at once, even right after another request's last send", () => {
  const { batcher, sent, at } = world(16);
  batcher.push(1, "a");
  at(10);
  batcher.push(1, "b");
  batcher.finish(1); // request 1's result follows: "b" goes now
  assert.deepEqual(sent, [[1, ["a"]], [1, ["b"]]]);
  at(12);
  batcher.push(2, "x"); // 2 ms after the last send: not held
  assert.deepEqual(sent.at(-1), [2, ["x"]]);
  at(13);
  batcher.push(2, "y");
  assert.equal(sent.length, 3, "the request's later chunks are batched");
  batcher.finish(2);
  at(14);
  batcher.push(2, "z"); // an id used again after finish starts afresh
  assert.deepEqual(sent.slice(3), [[2, ["y"]], [2, ["z"]]]);
});

Deno.test("a held chunk with nothing after it is sent by a timer (at most 2 × flushMs late)", async () => {
  const sent: string[][] = [];
  const batcher = new ChunkBatcher((_, texts) => sent.push(texts), { flushMs: 10 });
  batcher.push(1, "a");
  batcher.push(1, "b");
  assert.deepEqual(sent, [["a"]]);
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(sent, [["a"], ["b"]]);
});

Deno.test("a fast stream is sent at most every fast.flushMs; the interval comes back when it slows", () => {
  let now = 100;
  const sent: string[][] = [];
  const batcher = new ChunkBatcher((_, texts) => sent.push(texts), {
    flushMs: 16,
    fast: { flushMs: 48, chunksPerSecond: 250 },
    now: () => now,
  });
  const at = (t: number, text: string) => {
    now = 100 + t;
    batcher.push(1, text);
  };
  at(0, "a"); // the first chunk: at once, and not fast (nothing came before it)
  for (let t = 2; t <= 16; t += 2) at(t, `${t}`); // 8 chunks in 16 ms: 500 a second
  assert.deepEqual(sent, [["a"], ["2", "4", "6", "8", "10", "12", "14", "16"]]);
  for (let t = 18; t <= 62; t += 2) at(t, `${t}`);
  assert.equal(sent.length, 2, "held for 48 ms after a fast send");
  at(64, "64");
  assert.equal(sent.length, 3);
  assert.equal(sent[2]!.length, 24, "48 ms of chunks in one send");
  at(100, "slow"); // 1 chunk in 36 ms: slow, yet held (48 ms had not passed), then…
  at(120, "x");
  assert.deepEqual(sent.at(-1), ["slow", "x"]); // …2 chunks in 56 ms: slow, so the interval is 16 ms again
  at(130, "y");
  assert.equal(sent.length, 4, "held: 10 ms after the last send");
  at(136, "z");
  assert.deepEqual(sent.at(-1), ["y", "z"]);
});
