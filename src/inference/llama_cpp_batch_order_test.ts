import assert from "node:assert/strict";
import type * as NodeLlamaCpp from "node-llama-cpp";
import { shares, sortedBySequence } from "./llama_cpp_batch_order.ts";
import { createSequences } from "./llama_cpp_slots.ts";

const MODEL = new URL("../../tests/fixtures/stories260K.gguf", import.meta.url).pathname;

function item(n: number, first = 0): NodeLlamaCpp.BatchItem {
  const tokens = Array.from({ length: n }, (_, i) => first + i) as NodeLlamaCpp.Token[];
  return { tokens, logits: tokens.map(() => undefined), evaluationPriority: 5 };
}

Deno.test("batch order: items sorted by sequence id, unknown ones last in their order", () => {
  const [a, b, c, d] = [item(1, 10), item(1, 20), item(1, 30), item(1, 40)];
  const ids = new Map<unknown, number>([[a.tokens, 7], [b.tokens, 2], [d.tokens, 5]]);
  assert.deepEqual(sortedBySequence([a, b, c, d], ids), [b, d, a, c]);
});

Deno.test("batch order: every item gets an equal share, what is left goes to the longer ones in order", () => {
  assert.deepEqual(shares([item(100), item(1), item(3), item(100)], 16).map((p) => p.processAmount), [
    8,
    1,
    3,
    4,
  ]);
  assert.deepEqual(shares([item(2), item(2)], 16).map((p) => p.processAmount), [2, 2]);
  // More items than tokens of room: one token each while there is room.
  assert.deepEqual(shares([item(5), item(5), item(5)], 2).map((p) => p.processAmount), [1, 1]);
});

Deno.test("batch order: on a real context of 4 sequences every decode's items are found in its queue", async () => {
  const lib = await import("node-llama-cpp");
  const llama = await lib.getLlama({ gpu: false });
  const model = await llama.loadModel({ modelPath: MODEL });
  const { context, slots, order } = await createSequences(lib, model, {
    contextSize: 1024,
    sequences: 4,
    threads: 1,
  });
  try {
    const prompts = ["Once upon a time", "Lily saw a dog", "The sun was", "Tom had a red ball", "One day"];
    await Promise.all(
      prompts.map((p) =>
        slots.run((slot) => slot.completion.generateCompletion(p, { maxTokens: 12, temperature: 0 }))
      ),
    );
    assert.ok(order !== undefined);
    assert.ok(order.seen > prompts.length, `items seen: ${order.seen}`);
    assert.equal(
      order.unmatched,
      0,
      "node-llama-cpp's queue of evaluations (_queuedDecodes) names every item's sequence",
    );
  } finally {
    await slots.idle();
    slots.dispose();
    await context.dispose();
    await model.dispose();
  }
});
