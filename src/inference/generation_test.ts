import { deepStrictEqual as assertEquals, ok as assert, rejects as assertRejects } from "node:assert/strict";
import type { GenerateResult, StopReason } from "./backend.ts";
import { createGeneration } from "./generation.ts";

function summary(text: string, stopReason: StopReason): GenerateResult {
  const usage = {
    promptTokens: 1,
    generatedTokens: text.length,
    loadMs: 0,
    timeToFirstTokenMs: 0,
    totalMs: 0,
    tokensPerSecond: 0,
  };
  return { text, stopReason, usage };
}

/** Emits one letter per timer tick until `count` letters or an abort. */
function ticker(count: number) {
  return async (emit: (chunk: string) => void, signal: AbortSignal): Promise<GenerateResult> => {
    let text = "";
    while (text.length < count) {
      if (signal.aborted) return summary(text, "abort");
      await new Promise((resolve) => setTimeout(resolve, 1));
      const letter = String.fromCharCode(97 + (text.length % 26));
      text += letter;
      emit(letter);
    }
    return summary(text, "max_tokens");
  };
}

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const chunk of iterable) out.push(chunk);
  return out;
}

Deno.test("createGeneration streams every chunk in order, then resolves result", async () => {
  const generation = createGeneration(ticker(5));
  assertEquals(await collect(generation), ["a", "b", "c", "d", "e"]);
  const result = await generation.result;
  assertEquals(result.text, "abcde");
  assertEquals(result.stopReason, "max_tokens");
});

Deno.test("createGeneration buffers chunks for a late reader and works with result alone", async () => {
  const generation = createGeneration(ticker(4));
  assertEquals((await generation.result).text, "abcd");
  assertEquals((await collect(generation)).join(""), "abcd");
});

Deno.test("createGeneration: leaving the loop aborts the run", async () => {
  const generation = createGeneration(ticker(1000));
  let seen = "";
  for await (const chunk of generation) {
    seen += chunk;
    if (seen.length === 3) break;
  }
  const result = await generation.result;
  assertEquals(result.stopReason, "abort");
  assert(result.text.length < 10, `ran on after the break: ${result.text.length} chunks`);
});

Deno.test("createGeneration: the caller's signal aborts the run, before or during it", async () => {
  const early = new AbortController();
  early.abort();
  const before = createGeneration(ticker(1000), { signal: early.signal });
  assertEquals(await collect(before), []);
  assertEquals((await before.result).stopReason, "abort");

  const late = new AbortController();
  const during = createGeneration(ticker(1000), { signal: late.signal });
  const chunks: string[] = [];
  for await (const chunk of during) {
    chunks.push(chunk);
    if (chunks.length === 2) late.abort();
  }
  const result = await during.result;
  assertEquals(result.stopReason, "abort");
  assertEquals(chunks.join(""), result.text);
});

Deno.test("createGeneration: a failing run rejects the iteration and result, after the chunks it emitted", async () => {
  const generation = createGeneration((emit) => {
    emit("partial");
    return Promise.reject(new Error("boom"));
  });
  const chunks: string[] = [];
  await assertRejects(async () => {
    for await (const chunk of generation) chunks.push(chunk);
  }, /boom/);
  assertEquals(chunks, ["partial"]);
  await assertRejects(generation.result, /boom/);
});

Deno.test("createGeneration: an unobserved failure is not an unhandled rejection", async () => {
  createGeneration(() => Promise.reject(new Error("nobody listens")));
  await new Promise((resolve) => setTimeout(resolve, 5));
});

Deno.test("batches() gives every chunk emitted since the last batch at once, in order", async () => {
  const generation = createGeneration(async (emit) => {
    for (const burst of [["a", "b", "c"], ["d"], ["e", "f"]]) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      for (const chunk of burst) emit(chunk);
    }
    return summary("abcdef", "max_tokens");
  });
  const batches: string[][] = [];
  for await (const batch of generation.batches()) batches.push(batch);
  assertEquals(batches, [["a", "b", "c"], ["d"], ["e", "f"]]);
  assertEquals((await generation.result).text, "abcdef");
});

Deno.test("batches(): leaving early aborts the run; a failure rejects the batches and the result", async () => {
  const long = createGeneration(ticker(1000));
  for await (const _ of long.batches()) break;
  assertEquals((await long.result).stopReason, "abort");

  const failing = createGeneration(async (emit) => {
    emit("a");
    await new Promise((resolve) => setTimeout(resolve, 5));
    throw new Error("the model fell over");
  });
  const seen: string[][] = [];
  await assertRejects(async () => {
    for await (const batch of failing.batches()) seen.push(batch);
  }, /fell over/);
  assertEquals(seen, [["a"]]);
  await assertRejects(() => failing.result, /fell over/);
});
