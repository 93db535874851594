import assert from "node:assert/strict";
import type { ToolCallDeltaDescriptor } from "../../sdk/mod.ts";
import { openAiMessages, ToolCallStream, toolFields } from "./openai_tools.ts";

Deno.test("toolFields: lode's tools, choice and parallel flag as OpenAI's; none without tools", () => {
  assert.deepEqual(toolFields({}), {});
  assert.deepEqual(
    toolFields({
      tools: [{ name: "f", description: "d" }],
      toolChoice: { name: "f" },
      parallelToolCalls: false,
    }),
    {
      tools: [{
        type: "function",
        function: { name: "f", description: "d", parameters: { type: "object", properties: {} } },
      }],
      tool_choice: { type: "function", function: { name: "f" } },
      parallel_tool_calls: false,
    },
  );
  assert.equal(toolFields({ tools: [{ name: "f" }], toolChoice: "required" }).tool_choice, "required");
});

Deno.test("openAiMessages: calls as tool_calls (content null when empty), tool results with tool_call_id", () => {
  assert.deepEqual(
    openAiMessages([
      { role: "user", content: "hi" },
      { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "f", arguments: "{}" }] },
      { role: "tool", content: "42", toolCallId: "c1" },
    ]),
    [
      { role: "user", content: "hi" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }],
      },
      { role: "tool", tool_call_id: "c1", content: "42" },
    ],
  );
});

Deno.test("ToolCallStream: pieces assembled by index, each given on as lode's delta", () => {
  const stream = new ToolCallStream();
  const deltas: ToolCallDeltaDescriptor[] = [];
  const push = (pieces: unknown) => stream.push(pieces, (d) => deltas.push(d));
  push([{ index: 0, id: "c1", type: "function", function: { name: "f", arguments: '{"a"' } }]);
  push([{ index: 0, function: { arguments: ":1}" } }]);
  push([{ index: 1, id: "c2", function: { name: "g", arguments: "{}" } }]);
  push(undefined);
  assert.deepEqual(stream.calls, [
    { id: "c1", name: "f", arguments: '{"a":1}' },
    { id: "c2", name: "g", arguments: "{}" },
  ]);
  assert.deepEqual(deltas[1], { index: 0, arguments: ":1}" });
  assert.equal(deltas.length, 3);
});
