// What a runner loads when the daemon runs several requests of a model at once (`--parallel`, the load's
// `sequences`): each sequence gets a request's context, and the memory estimate counts them all.
import assert from "node:assert/strict";
import { preflight } from "../../inference/memory_preflight.ts";
import { runnerLoad } from "./router_lifecycle.ts";
import { estimateRunnerBytes } from "./router_memory.ts";

const STORIES = new URL("../../../tests/fixtures/stories260K.gguf", import.meta.url).pathname;

Deno.test("runnerLoad: the context is sequences × a request's context; without one, the backend's default each", () => {
  assert.deepEqual(runnerLoad({ threads: 1, sequences: 4 }, 512), {
    threads: 1,
    sequences: 4,
    contextSize: 2048,
  });
  assert.deepEqual(runnerLoad({ threads: 1, contextSize: 256 }, 256), { threads: 1, contextSize: 256 });
  assert.deepEqual(runnerLoad({ sequences: 2 }, null), { sequences: 2 });
  assert.deepEqual(runnerLoad(undefined, 300), { contextSize: 300 });
});

Deno.test("estimateRunnerBytes counts the KV cache of every sequence, given a context or the default", async () => {
  const kv = (await preflight(STORIES, { contextSize: 512, availableRam: Infinity })).kvCache.ram;
  const one = await estimateRunnerBytes(STORIES, runnerLoad({}, 512));
  const four = await estimateRunnerBytes(STORIES, runnerLoad({ sequences: 4 }, 512));
  assert.ok(four - one >= 3 * kv, `${four} - ${one} ≥ 3 × ${kv}`);
  const byDefault = await estimateRunnerBytes(STORIES, { sequences: 4 });
  const defaultOne = await estimateRunnerBytes(STORIES, {});
  assert.ok(byDefault > defaultOne);
});
