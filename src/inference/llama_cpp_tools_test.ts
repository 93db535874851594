import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { writeChatModel } from "../../tests/support/chat_model.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";
import { isLodeError } from "../errors.ts";
import type { ChatMessage, ToolCallDelta, ToolDefinition } from "./backend.ts";
import { createLlamaCppBackend } from "./llama_cpp_backend.ts";
import { toChatHistory } from "./llama_cpp_chat.ts";
import { checkTools, ToolCallStream } from "./llama_cpp_tools.ts";

const STORIES = fromFileUrl(new URL("../../tests/fixtures/stories260K.gguf", import.meta.url));
const LOAD = { gpu: "off", threads: 1, contextSize: 1024 } as const;
/** Arguments a grammar bounds (a boolean and an enum): a forced call of it always completes. */
const WEATHER: ToolDefinition = {
  name: "get_weather",
  description: "The weather",
  parameters: {
    type: "object",
    properties: { precise: { type: "boolean" }, unit: { enum: ["c", "f"] } },
    required: ["precise", "unit"],
  },
};
const TIME: ToolDefinition = { name: "get_time" };
const ASK: ChatMessage = { role: "user", content: "Weather?" };

Deno.test("checkTools: none or no tools is text only; a forced or limited choice; bad tools are USAGE", () => {
  assert.equal(checkTools({}), undefined);
  assert.equal(checkTools({ tools: [TIME], toolChoice: "none" }), undefined);
  assert.equal(checkTools({ tools: [] }), undefined);
  assert.deepEqual(checkTools({ tools: [TIME] }), {
    functions: { get_time: {} },
    force: false,
    maxParallel: undefined,
  });
  const named = checkTools({
    tools: [WEATHER, TIME],
    toolChoice: { name: "get_time" },
    parallelToolCalls: false,
  });
  assert.deepEqual(named, { functions: { get_time: {} }, force: true, maxParallel: 1 });
  assert.equal(checkTools({ tools: [TIME], toolChoice: "required" })?.force, true);
  const usage = (field: string) => (e: unknown) => isLodeError(e, "USAGE") && e.details.field === field;
  assert.throws(() => checkTools({ toolChoice: "required" }), usage("toolChoice"));
  assert.throws(() => checkTools({ tools: [TIME], toolChoice: { name: "nope" } }), usage("toolChoice"));
  assert.throws(() => checkTools({ tools: [{ name: "a b" }] }), usage("tools.0.name"));
  assert.throws(() => checkTools({ tools: [TIME, TIME] }), usage("tools.1.name"));
  assert.throws(() => checkTools({ tools: [TIME], jsonSchema: { type: "object" } }), usage("jsonSchema"));
  assert.throws(
    () =>
      checkTools({
        tools: [{ name: "f", parameters: { type: "object", properties: { a: { type: "date" } } } }],
      }),
    (e) => isLodeError(e, "SCHEMA_INVALID") && e.details.tool === "f",
  );
});

Deno.test("toChatHistory: an assistant's tool calls carry the results of the tool messages after it", () => {
  const history = toChatHistory([
    ASK,
    { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "get_time", arguments: "" }] },
    { role: "tool", toolCallId: "c1", content: '{"h":9}' },
    { role: "assistant", content: "Nine." },
  ]);
  assert.deepEqual(history, [
    { type: "user", text: "Weather?" },
    {
      type: "model",
      response: [
        { type: "functionCall", name: "get_time", params: undefined, result: { h: 9 }, startsNewChunk: true },
        "Nine.",
      ],
    },
  ]);
  const orphan = (messages: ChatMessage[]) => () => toChatHistory(messages);
  assert.throws(
    orphan([ASK, { role: "tool", toolCallId: "c1", content: "9" }]),
    (e) => isLodeError(e, "USAGE"),
  );
  assert.throws(
    orphan([ASK, { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "f", arguments: "{" }] }]),
    (e) => isLodeError(e, "USAGE"),
  );
});

Deno.test("a chat model calls tools: capabilities.tools, forced and named calls, a tool-result turn", async () => {
  await withTempDir(async (dir) => {
    const backend = createLlamaCppBackend();
    try {
      const session = await backend.load(await writeChatModel(`${dir}/chat.gguf`), LOAD);
      assert.equal(session.capabilities.tools, true);
      const deltas: ToolCallDelta[] = [];
      const required = await session.chat([ASK], {
        tools: [WEATHER],
        toolChoice: "required",
        maxTokens: 100,
        onToolCallDelta: (d) => deltas.push(d),
      }).result;
      assert.equal(required.stopReason, "tool_calls");
      assert.equal(required.text, "");
      assert.equal(required.toolCalls?.length, 1);
      const call = required.toolCalls![0]!;
      assert.equal(call.name, "get_weather");
      assert.match(call.id, /^call_/);
      const args = JSON.parse(call.arguments);
      assert.equal(typeof args.precise, "boolean");
      assert.ok(["c", "f"].includes(args.unit));
      // The pieces streamed while the call was generated make the same call.
      assert.ok(deltas.length > 1, JSON.stringify(deltas));
      assert.deepEqual([deltas[0]!.index, deltas[0]!.id, deltas[0]!.name], [0, call.id, "get_weather"]);
      assert.ok(deltas.slice(1).every((d) => d.index === 0 && d.id === undefined));
      assert.equal(deltas.map((d) => d.arguments).join(""), call.arguments);

      const named = await session.chat([ASK], {
        tools: [WEATHER, TIME],
        toolChoice: { name: "get_time" },
        parallelToolCalls: false,
        maxTokens: 100,
      }).result;
      assert.deepEqual(named.toolCalls?.map((c) => [c.name, JSON.parse(c.arguments)]), [["get_time", {}]]);

      const turn: ChatMessage[] = [
        ASK,
        { role: "assistant", content: "", toolCalls: [call] },
        { role: "tool", toolCallId: call.id, content: '{"celsius":21}' },
      ];
      const answer = await session.chat(turn, { tools: [WEATHER], toolChoice: "none", maxTokens: 4 }).result;
      assert.equal(answer.stopReason, "max_tokens");
      assert.equal(answer.toolCalls, undefined);

      await assert.rejects(
        session.generate("x", { tools: [TIME] }).result,
        (e) => isLodeError(e, "USAGE"),
      );
    } finally {
      await backend.close();
    }
  }, { prefix: "lode-tools-" });
});

Deno.test("a model without a chat template cannot call tools: capabilities.tools false, tools refused (USAGE)", async () => {
  const backend = createLlamaCppBackend();
  try {
    const session = await backend.load(STORIES, LOAD);
    assert.equal(session.capabilities.tools, false);
    await assert.rejects(
      session.chat([ASK], { tools: [TIME] }).result,
      (e) => isLodeError(e, "USAGE") && e.details.field === "tools",
    );
    const text = await session.chat([ASK], { tools: [TIME], toolChoice: "none", maxTokens: 2 }).result;
    assert.equal(text.toolCalls, undefined);
  } finally {
    await backend.close();
  }
});

Deno.test("ToolCallStream: pieces of several calls by index, trailing whitespace held back, calls without pieces announced at the end", () => {
  const deltas: ToolCallDelta[] = [];
  const stream = new ToolCallStream((d) => deltas.push(d));
  stream.chunk({ callIndex: 0, functionName: "f", paramsChunk: '{"a":', done: false });
  stream.chunk({ callIndex: 0, functionName: "f", paramsChunk: "1}\n\n", done: false });
  stream.chunk({ callIndex: 1, functionName: "g", paramsChunk: "{ ", done: false });
  stream.chunk({ callIndex: 1, functionName: "g", paramsChunk: "}", done: true });
  const calls = stream.finish([
    { functionName: "f", params: { a: 1 } },
    { functionName: "g", params: {} },
    { functionName: "h" },
  ]);
  assert.deepEqual(calls.map((c) => [c.name, c.arguments]), [["f", '{"a":1}'], ["g", "{ }"], ["h", "{}"]]);
  assert.equal(new Set(calls.map((c) => c.id)).size, 3);
  assert.deepEqual(deltas, [
    { index: 0, id: calls[0]!.id, name: "f", arguments: '{"a":' },
    { index: 0, arguments: "1}" },
    { index: 1, id: calls[1]!.id, name: "g", arguments: "{" },
    { index: 1, arguments: " }" },
    { index: 2, id: calls[2]!.id, name: "h", arguments: "{}" },
  ]);
});
