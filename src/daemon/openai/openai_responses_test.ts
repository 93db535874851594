import assert from "node:assert/strict";
import {
  chatBody,
  chunk,
  completionBody,
  embeddingsBody,
  finishReason,
  float32Base64,
  modelsBody,
  toolCallsChunk,
  usageChunk,
} from "./openai_responses.ts";
import { openAiToolCallDelta, toolCallDeltas } from "./openai_tools.ts";

const A = { id: "x-1", created: 1700000000, model: "m", text: "Hi", stopReason: "eos" as const };
/** A generation's usage with these token counts. */
const used = (promptTokens: number, generatedTokens: number) => ({
  promptTokens,
  generatedTokens,
  loadMs: 5,
  timeToFirstTokenMs: 1,
  totalMs: 9,
  tokensPerSecond: 700,
});

Deno.test("finish_reason: eos and stop → stop, max_tokens and context_full → length", () => {
  assert.deepEqual(
    (["eos", "stop", "max_tokens", "context_full", "abort", undefined] as const).map(finishReason),
    ["stop", "stop", "length", "length", "stop", "stop"],
  );
});

Deno.test("completion and chat bodies", () => {
  const usage = used(4, 2);
  assert.deepEqual(completionBody({ ...A, usage }), {
    id: "x-1",
    object: "text_completion",
    created: 1700000000,
    model: "m",
    choices: [{ index: 0, text: "Hi", logprobs: null, finish_reason: "stop" }],
    usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 },
  });
  const chat = chatBody({ ...A, stopReason: "max_tokens" }) as { choices: Record<string, unknown>[] };
  assert.deepEqual(chat.choices[0], {
    index: 0,
    message: { role: "assistant", content: "Hi", refusal: null },
    logprobs: null,
    finish_reason: "length",
  });
});

Deno.test("chunks: first chat chunk has the role, the last the finish_reason, usage chunk has no choices", () => {
  const first = chunk("chat", { ...A, text: "" }, { first: true }) as { choices: Record<string, unknown>[] };
  assert.deepEqual(first.choices[0], {
    index: 0,
    delta: { content: "", role: "assistant" },
    logprobs: null,
    finish_reason: null,
  });
  const last = chunk("chat", A, { finish: true }) as { object: string; choices: Record<string, unknown>[] };
  assert.equal(last.object, "chat.completion.chunk");
  assert.deepEqual(last.choices[0]!.delta, {});
  assert.equal(last.choices[0]!.finish_reason, "stop");
  const text = chunk("completion", A) as { object: string; choices: Record<string, unknown>[] };
  assert.equal(text.object, "text_completion");
  assert.equal(text.choices[0]!.text, "Hi");
  assert.equal(text.choices[0]!.finish_reason, null);
  assert.deepEqual(
    usageChunk("chat", { ...A, usage: used(1, 1) }).choices,
    [],
  );
});

Deno.test("embeddings: floats or base64 of little-endian float32", () => {
  assert.equal(float32Base64([1]), "AACAPw==");
  const b64 = float32Base64([0.5, -2, 3.25]);
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  assert.deepEqual([...new Float32Array(bytes.buffer)], [0.5, -2, 3.25]);
  const body = embeddingsBody({ model: "m", embeddings: [[1], [0]], promptTokens: 3, base64: false });
  assert.deepEqual(body, {
    object: "list",
    model: "m",
    data: [{ object: "embedding", index: 0, embedding: [1] }, {
      object: "embedding",
      index: 1,
      embedding: [0],
    }],
    usage: { prompt_tokens: 3, total_tokens: 3 },
  });
});

Deno.test("models list", () => {
  assert.deepEqual(modelsBody([{ name: "a", loaded: true }], 5), {
    object: "list",
    data: [{ id: "a", object: "model", created: 5, owned_by: "lode", loaded: true }],
  });
});

Deno.test("tool calls: message.tool_calls with content null and finish_reason tool_calls; a chunk of delta.tool_calls", () => {
  const calls = [{ id: "call_1", name: "f", arguments: "{}" }, {
    id: "call_2",
    name: "g",
    arguments: '{"a":1}',
  }];
  assert.equal(finishReason("tool_calls"), "tool_calls");
  const body = chatBody({ ...A, text: "", stopReason: "tool_calls", toolCalls: calls }) as {
    choices: { message: Record<string, unknown>; finish_reason: string }[];
  };
  assert.equal(body.choices[0]!.finish_reason, "tool_calls");
  assert.equal(body.choices[0]!.message.content, null);
  assert.deepEqual(body.choices[0]!.message.tool_calls, [
    { id: "call_1", type: "function", function: { name: "f", arguments: "{}" } },
    { id: "call_2", type: "function", function: { name: "g", arguments: '{"a":1}' } },
  ]);
  const plain = chatBody(A) as { choices: { message: Record<string, unknown> }[] };
  assert.equal("tool_calls" in plain.choices[0]!.message, false);
  const c = toolCallsChunk(A, toolCallDeltas(calls)) as {
    choices: { delta: { tool_calls: unknown[] }; finish_reason: null }[];
  };
  assert.equal(c.choices[0]!.finish_reason, null);
  assert.deepEqual(c.choices[0]!.delta.tool_calls[1], {
    index: 1,
    id: "call_2",
    type: "function",
    function: { name: "g", arguments: '{"a":1}' },
  });
});

Deno.test("a piece of a tool call: id, type and name on a call's first piece only", () => {
  assert.deepEqual(openAiToolCallDelta({ index: 1, id: "call_2", name: "g", arguments: '{"a"' }), {
    index: 1,
    id: "call_2",
    type: "function",
    function: { name: "g", arguments: '{"a"' },
  });
  assert.deepEqual(openAiToolCallDelta({ index: 1, arguments: ":1}" }), {
    index: 1,
    function: { arguments: ":1}" },
  });
});
