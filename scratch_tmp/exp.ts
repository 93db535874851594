import { writeChatModel } from "/work/wt-oaitools/tests/support/chat_model.ts";
const path = "/tmp/oait/chat.gguf";
try { await Deno.stat(path); } catch { await writeChatModel(path); }
const lib = await import("node-llama-cpp");
const llama = await lib.getLlama({ gpu: false });
const model = await llama.loadModel({ modelPath: path });
const ctx = await model.createContext({ contextSize: 2048 });
const base = lib.resolveChatWrapper(model, { warningLogs: false });
console.log("wrapper", base.wrapperName, JSON.stringify(base.settings.functions));
const forced = Object.create(base);
forced.generateContextState = function (o: any) {
  const s = base.generateContextState(o);
  return { ...s, noPrefixTrigger: { type: "functionCall", inject: lib.LlamaText(base.settings.functions.call.prefix) } };
};
const functions = { get_weather: { description: "Weather of a city", params: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } };
const seq = ctx.getSequence();
for (const w of [base, forced]) {
  const chat = new lib.LlamaChat({ contextSequence: seq, chatWrapper: w });
  const r = await chat.generateResponse([{ type: "user", text: "weather in Paris?" }, { type: "model", response: [] }], {
    functions, maxTokens: 60, onTextChunk: (t) => console.log("chunk", JSON.stringify(t)),
    onFunctionCallParamsChunk: (c) => console.log("params", JSON.stringify(c)),
  });
  console.log(JSON.stringify(r.functionCalls), r.metadata.stopReason, JSON.stringify(r.response));
  chat.dispose({disposeSequence:false});
}
