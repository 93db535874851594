import assert from "node:assert/strict";
import type { Capabilities, SessionInfo } from "../inference/backend.ts";
import { sessionLine, usageLines } from "./usage_report.ts";
import { CPU_CAPABILITIES } from "../../tests/support/loaded_frame.ts";

const usage = {
  promptTokens: 6,
  generatedTokens: 40,
  loadMs: 90,
  timeToFirstTokenMs: 3,
  totalMs: 50,
  tokensPerSecond: 830,
};

Deno.test("usage lines: prompt speed is prompt tokens over the time to the first token", () => {
  assert.deepEqual(usageLines({ text: "", stopReason: "eos", usage }), [
    "prompt: 6 tokens in 3.0 ms (2000 tokens/s)",
    "generated: 40 tokens at 830.0 tokens/s (end: eos, 50 ms)",
  ]);
  const none = usageLines({
    text: "",
    stopReason: "abort",
    usage: { ...usage, generatedTokens: 0, timeToFirstTokenMs: null, tokensPerSecond: 0 },
  });
  assert.equal(none[0], "prompt: 6 tokens (no token generated)");
});

Deno.test("session line: load time, shape, threads, accelerator and mode", () => {
  const info: SessionInfo = {
    path: "m.gguf",
    architecture: "llama",
    contextSize: 512,
    trainContextSize: 512,
    threads: 1,
    hasChatTemplate: false,
    embeddingSize: 64,
    loadMs: 123.4,
  };
  const caps: Capabilities = { ...CPU_CAPABILITIES, backend: "llama.cpp" };
  assert.equal(
    sessionLine(info, caps, "text continuation"),
    "load: 123 ms (llama, n_ctx 512, 1 thread, cpu; text continuation)",
  );
  assert.match(
    sessionLine({ ...info, threads: 2 }, { ...caps, accelerator: "cuda", gpu_layers: 33 }, "x"),
    /2 threads, cuda, 33 GPU layers/,
  );
});
