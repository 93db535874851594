import assert from "node:assert/strict";
import type { ChatMessage, GenerateOptions } from "../../inference/backend.ts";
import { Request } from "./protocol.ts";
import {
  chatMessages,
  samplingFields,
  samplingOptions,
  toolFields,
  toolOptions,
  wireMessages,
} from "./protocol_backend.ts";

Deno.test("samplingFields → the wire → samplingOptions: every backend sampling option comes back as it was, the signal stays home", () => {
  type Tool = "tools" | "toolChoice" | "parallelToolCalls" | "onToolCallDelta";
  const options: Required<Omit<GenerateOptions, "signal" | Tool>> = {
    maxTokens: 40,
    temperature: 0.5,
    seed: 7,
    topK: 40,
    topP: 0.9,
    repeatPenalty: 1.1,
    stop: ["\n", "END"],
    jsonSchema: { type: "object" },
  };
  const fields = samplingFields({ ...options, signal: new AbortController().signal });
  assert.equal("signal" in fields, false);
  const request = Request.parse(
    JSON.parse(JSON.stringify({ id: "g", op: "generate", model: "m", prompt: "p", ...fields })),
  );
  assert.ok(request.op === "generate");
  assert.deepEqual(samplingOptions(request), options);
  assert.deepEqual(samplingFields({}), {});
});

Deno.test("toolFields and wireMessages → a chat request on the wire → toolOptions and chatMessages: tools, tool calls and results come back as they were", () => {
  const tools: Required<Pick<GenerateOptions, "tools" | "toolChoice" | "parallelToolCalls">> = {
    tools: [{ name: "get_weather", description: "Weather", parameters: { type: "object" } }, { name: "now" }],
    toolChoice: { name: "now" },
    parallelToolCalls: false,
  };
  const messages: ChatMessage[] = [
    { role: "user", content: "Weather?" },
    { role: "assistant", content: "", toolCalls: [{ id: "call_1", name: "get_weather", arguments: "{}" }] },
    { role: "tool", content: "21", toolCallId: "call_1" },
  ];
  const request = Request.parse(JSON.parse(JSON.stringify({
    id: "c",
    op: "chat",
    model: "m",
    messages: wireMessages(messages),
    ...toolFields(tools),
  })));
  assert.ok(request.op === "chat");
  assert.deepEqual(toolOptions(request), tools);
  assert.deepEqual(chatMessages(request.messages), messages);
  assert.deepEqual(toolFields({}), {});
});
