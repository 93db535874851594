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
  at(1);
  batcher.push(2, "x");
  batcher.push(1, "b");
  batcher.push(2, "y");
  batcher.flush();
  assert.deepEqual(sent, [[1, ["a"]], [2, ["x", "y"]], [1, ["b"]]]);
  batcher.flush();
  assert.equal(sent.length, 3);
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
