import {
  deepStrictEqual as assertEquals,
  rejects as assertRejects,
  throws as assertThrows,
} from "node:assert/strict";
import { isLodeError, LodeError } from "../errors.ts";
import {
  checkAfterGeneration,
  checkGenerateOptions,
  runTurn,
  stopReasonOf,
  type TurnSpec,
} from "./llama_cpp_turn.ts";

function spec(overrides: Partial<TurnSpec>): TurnSpec {
  let t = 0;
  return {
    now: () => (t += 10),
    loadMs: 5,
    path: "m.gguf",
    promptTokens: 3,
    maxTokens: undefined,
    signal: new AbortController().signal,
    emit: () => {},
    call: () => Promise.resolve("eogToken"),
    ...overrides,
  };
}

Deno.test("checkGenerateOptions refuses out-of-range options and unusable schemas before anything runs", () => {
  const usage = (options: object) =>
    assertThrows(() => checkGenerateOptions(options), (e: unknown) => isLodeError(e, "USAGE"));
  usage({ maxTokens: 0 });
  usage({ maxTokens: 1.5 });
  usage({ temperature: -1 });
  usage({ temperature: Infinity });
  usage({ topK: -1 });
  usage({ topP: 0 });
  usage({ topP: 1.5 });
  usage({ repeatPenalty: 0 });
  usage({ seed: -3 });
  usage({ stop: [""] });
  usage({ stop: "x" });
  assertThrows(
    () => checkGenerateOptions({ jsonSchema: { type: "string", not: { pattern: "x" } } }),
    (e: unknown) => isLodeError(e, "SCHEMA_INVALID"),
  );
  const checked = checkGenerateOptions({
    maxTokens: 3,
    stop: ["\n"],
    jsonSchema: { anyOf: [{ type: "null" }] },
  });
  assertEquals(checked.jsonSchema?.grammar.schema, { oneOf: [{ type: "null" }] });
});

Deno.test("checkAfterGeneration: a finished output that breaks the schema is SCHEMA_MISMATCH; a cut one is not checked", () => {
  const checked = checkGenerateOptions({ jsonSchema: { type: "string", pattern: "^[a-z]+$" } });
  const usage = {
    promptTokens: 1,
    generatedTokens: 2,
    loadMs: 0,
    timeToFirstTokenMs: 1,
    totalMs: 2,
    tokensPerSecond: 1,
  };
  const ok = { text: '"abc"', stopReason: "eos" as const, usage };
  assertEquals(checkAfterGeneration(checked, ok), ok);
  assertThrows(
    () => checkAfterGeneration(checked, { ...ok, text: '"ABC"' }),
    (e: unknown) => isLodeError(e, "SCHEMA_MISMATCH") && e.details.keyword === "pattern",
  );
  const cut = { ...ok, text: '"AB', stopReason: "max_tokens" as const };
  assertEquals(checkAfterGeneration(checked, cut), cut);
  assertEquals(checkAfterGeneration(checkGenerateOptions({}), { ...ok, text: "free" }).text, "free");
});

Deno.test("stopReasonOf maps node-llama-cpp's reasons", () => {
  const at = (maxTokens: number | undefined, generated: number) => ({ maxTokens, generated });
  assertEquals(stopReasonOf("eogToken", at(5, 2)), "eos");
  assertEquals(stopReasonOf("stopGenerationTrigger", at(5, 2)), "eos"); // a grammar or a turn ended
  assertEquals(stopReasonOf("customStopTrigger", at(5, 2)), "stop");
  assertEquals(stopReasonOf("maxTokens", at(5, 5)), "max_tokens");
  assertEquals(stopReasonOf("maxTokens", at(50, 7)), "context_full");
  assertEquals(stopReasonOf("maxTokens", at(undefined, 7)), "context_full");
  assertEquals(stopReasonOf("abort", at(5, 1)), "abort");
});

Deno.test("runTurn streams, measures and classifies a generation", async () => {
  const chunks: string[] = [];
  const result = await runTurn(spec({
    maxTokens: 3,
    emit: (c) => chunks.push(c),
    call: ({ onToken, onTextChunk }) => {
      for (const piece of ["a", "b", "c"]) {
        onToken([1]);
        onTextChunk(piece);
      }
      return Promise.resolve("maxTokens");
    },
  }));
  assertEquals(chunks, ["a", "b", "c"]);
  assertEquals(result.text, "abc");
  assertEquals(result.stopReason, "max_tokens");
  // The clock ticks 10 ms per reading: start 10, first token 20 (read once), end 30.
  assertEquals(result.usage, {
    promptTokens: 3,
    generatedTokens: 3,
    loadMs: 5,
    timeToFirstTokenMs: 10,
    totalMs: 20,
    tokensPerSecond: 2 / 0.01,
  });
});

Deno.test("runTurn: aborted runs end with abort, failures are typed", async () => {
  const aborted = new AbortController();
  aborted.abort();
  let called = false;
  const none = await runTurn(
    spec({ signal: aborted.signal, call: () => Promise.resolve((called = true, "eogToken")) }),
  );
  assertEquals([none.stopReason, none.usage.generatedTokens, called], ["abort", 0, false]);

  const during = new AbortController();
  const cut = await runTurn(spec({
    signal: during.signal,
    call: ({ onToken, onTextChunk }) => {
      onToken([1]);
      onTextChunk("x");
      during.abort();
      return Promise.reject(new Error("aborted"));
    },
  }));
  assertEquals([cut.stopReason, cut.text], ["abort", "x"]);

  await assertRejects(
    runTurn(spec({ call: () => Promise.reject(new Error("llama exploded")) })),
    (e: unknown) => isLodeError(e, "INFERENCE_FAILED") && /llama exploded/.test(e.message),
  );
  await assertRejects(
    runTurn(spec({ call: () => Promise.reject(new LodeError("SCHEMA_INVALID", "no")) })),
    (e: unknown) => isLodeError(e, "SCHEMA_INVALID"),
  );
});

Deno.test("runTurn: a stop string spanning chunks ends the turn where it begins, and aborts the call", async () => {
  for (const settle of ["resolve", "reject"] as const) {
    const chunks: string[] = [];
    let callSignal: AbortSignal | undefined;
    const result = await runTurn(spec({
      stop: ["the park"],
      emit: (c) => chunks.push(c),
      call: ({ onToken, onTextChunk, signal }) => {
        callSignal = signal;
        for (const piece of ["in the pa", "rk. One", " more"]) {
          onToken([1]);
          onTextChunk(piece);
        }
        return settle === "resolve" ? Promise.resolve("abort") : Promise.reject(new Error("aborted"));
      },
    }));
    assertEquals([result.text, result.stopReason, chunks.join("")], ["in ", "stop", "in "], settle);
    assertEquals(callSignal?.aborted, true, settle);
  }
  // Held-back text that never became a stop string is released at the end.
  const tail = await runTurn(spec({
    stop: ["the park"],
    call: ({ onTextChunk }) => (onTextChunk("in the pa"), Promise.resolve("eogToken")),
  }));
  assertEquals([tail.text, tail.stopReason], ["in the pa", "eos"]);
});

Deno.test("runTurn: usage counts the sequence's sampled tokens (capped at maxTokens), not only reported ones", async () => {
  let meter = 100; // tokens sampled on the sequence before this turn
  const result = await runTurn(spec({
    maxTokens: 4,
    sampledTokens: () => meter,
    call: ({ onToken, onTextChunk }) => {
      onToken([1, 2]);
      onTextChunk("ab");
      meter += 5; // 3 more sampled (an unfinished UTF-8 sequence) and one past maxTokens
      return Promise.resolve("maxTokens");
    },
  }));
  assertEquals([result.usage.generatedTokens, result.stopReason], [4, "max_tokens"]);
});
