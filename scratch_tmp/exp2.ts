import { createLlamaCppBackend } from "../src/inference/llama_cpp_backend.ts";
const backend = createLlamaCppBackend();
const s = await backend.load("/tmp/oait/chat.gguf", { contextSize: 1024 });
console.log(s.capabilities.tools);
const tools = [
  { name: "get_weather", description: "Weather", parameters: { type: "object", properties: { unit: { enum: ["c", "f"] }, ok: { type: "boolean" } }, required: ["unit", "ok"] } },
  { name: "get_time" },
];
for (const toolChoice of ["auto", "required", { name: "get_weather" }, "none"] as const) {
  const g = s.chat([{ role: "user", content: "weather?" }], { tools, toolChoice, maxTokens: 40 });
  const r = await g.result;
  console.log(JSON.stringify(toolChoice), r.stopReason, JSON.stringify(r.toolCalls), JSON.stringify(r.text.slice(0, 40)));
}
const msgs = [{ role: "user" as const, content: "weather?" },
  { role: "assistant" as const, content: "", toolCalls: [{ id: "call_1", name: "get_weather", arguments: '{"unit":"c","ok":true}' }] },
  { role: "tool" as const, toolCallId: "call_1", content: '{"celsius":21}' }];
console.log(await (s as any).renderChat(msgs, { tools }));
const r = await s.chat(msgs, { tools, maxTokens: 10 }).result;
console.log(r.stopReason, JSON.stringify(r.toolCalls), JSON.stringify(r.text));
await backend.close();
