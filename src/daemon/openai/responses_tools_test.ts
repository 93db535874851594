import assert from "node:assert/strict";
import { isLodeError } from "../../errors.ts";
import { responseObject } from "./responses_api.ts";
import { responsesRequest } from "./responses_request.ts";
import {
  type ChatMessage,
  chatToolChoice,
  chatTools,
  functionCallItem,
  functionItemMessage,
} from "./responses_tools.ts";

Deno.test("Responses function tools and tool_choice in the chat API's shape; other tools refused", () => {
  assert.deepEqual(
    chatTools([{
      type: "function",
      name: "f",
      description: "d",
      parameters: { type: "object" },
      strict: true,
    }]),
    [{
      type: "function",
      function: { name: "f", description: "d", parameters: { type: "object" }, strict: true },
    }],
  );
  assert.throws(
    () => chatTools([{ type: "function", name: "f" }, { type: "file_search" }]),
    (e) => isLodeError(e, "BAD_REQUEST") && e.details.field === "tools.1.type",
  );
  assert.deepEqual(chatToolChoice({ type: "function", name: "f" }), {
    type: "function",
    function: { name: "f" },
  });
  assert.equal(chatToolChoice("required"), "required");
});

Deno.test("function_call items join one assistant message; function_call_output items are tool messages", () => {
  const messages: ChatMessage[] = [];
  const items = [
    { type: "function_call", call_id: "c1", name: "f", arguments: '{"a":1}' },
    { type: "function_call", call_id: "c2", name: "g", arguments: "{}" },
    { type: "function_call_output", call_id: "c1", output: "one" },
    {
      type: "function_call_output",
      call_id: "c2",
      output: [{ type: "input_text", text: "t" }, { type: "input_text", text: "wo" }],
    },
  ];
  items.forEach((item, i) => {
    const m = functionItemMessage(item, i, messages.at(-1));
    if (m !== null) messages.push(m);
  });
  assert.deepEqual(messages, [
    {
      role: "assistant",
      content: null,
      tool_calls: [
        { id: "c1", type: "function", function: { name: "f", arguments: '{"a":1}' } },
        { id: "c2", type: "function", function: { name: "g", arguments: "{}" } },
      ],
    },
    { role: "tool", tool_call_id: "c1", content: "one" },
    { role: "tool", tool_call_id: "c2", content: "two" },
  ]);
  assert.throws(
    () => functionItemMessage({ type: "function_call", call_id: "c", name: "f" }, 4, undefined),
    (e) => isLodeError(e, "BAD_REQUEST") && e.details.field === "input.4.arguments",
  );
});

Deno.test("a response with tool calls: function_call items after the message (left out when empty)", () => {
  const t = responsesRequest({ model: "m", input: "Weather?" }, "resp_1");
  const call = { id: "call_1", name: "get_weather", arguments: '{"city":"Oslo"}' };
  const only = responseObject(t, { id: "resp_1", createdAt: 0 }, {
    status: "completed",
    text: "",
    calls: [call],
  });
  assert.deepEqual(only.output, [functionCallItem(call)]);
  assert.deepEqual(functionCallItem(call), {
    type: "function_call",
    id: "fc_call_1",
    call_id: "call_1",
    name: "get_weather",
    arguments: '{"city":"Oslo"}',
    status: "completed",
  });
  const both = responseObject(t, { id: "resp_1", createdAt: 0 }, {
    status: "completed",
    text: "Let me see.",
    calls: [call],
  });
  assert.deepEqual((both.output as { type: string }[]).map((i) => i.type), ["message", "function_call"]);
});
