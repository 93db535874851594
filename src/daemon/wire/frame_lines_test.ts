import assert from "node:assert/strict";
import { LodeError } from "../../errors.ts";
import { loadedFrame } from "../../../tests/support/loaded_frame.ts";
import { encodeFrame, frameLine, frameLines } from "./frame_lines.ts";
import { ResponseFrame } from "./protocol.ts";
import { errorFrame } from "./decode_request.ts";
import { usageFrom } from "./protocol_backend.ts";

Deno.test("encodeFrame, frameLine: one JSON line every frame schema accepts", () => {
  const frames: ResponseFrame[] = [
    { id: "1", type: "queued", position: 3 },
    { id: "1", type: "token", text: "Once" },
    {
      id: "1",
      type: "done",
      stop_reason: "max_tokens",
      usage: usageFrom({
        promptTokens: 4,
        generatedTokens: 40,
        loadMs: 12,
        timeToFirstTokenMs: 3,
        totalMs: 50,
        tokensPerSecond: 900,
      }, { queueMs: 7 }),
    },
    { id: "2", type: "health", protocol: 1, version: "0.1.0", status: "ready", queued: 0, running: 1 },
    { id: "3", type: "models", models: [{ name: "stories", loaded: true, size_bytes: 1185376 }] },
    { id: "4", type: "tokens", tokens: [1, 2, 3] },
    { id: "5", type: "embeddings", embeddings: [[0.1, 0.2]] },
    loadedFrame("6", "stories"),
    { id: "9", type: "text", text: "Once upon a time" },
    {
      id: "10",
      type: "loading",
      phase: "download",
      downloaded_bytes: 1,
      total_bytes: 2,
      source_url: "https://h/m",
    },
    { id: "7", type: "unloaded", model: "stories", was_loaded: true },
    { id: "8", type: "cancelled", target: "1", state: "running" },
    errorFrame(null, new LodeError("BAD_JSON", "not JSON")),
  ];
  for (const frame of frames) {
    const text = new TextDecoder().decode(encodeFrame(frame));
    assert.equal(text, frameLine(frame));
    assert.ok(text.endsWith("\n") && text.indexOf("\n") === text.length - 1);
    assert.deepEqual(ResponseFrame.parse(JSON.parse(text)), frame);
  }
  const done = frames[2] as Extract<ResponseFrame, { type: "done" }>;
  assert.deepEqual(done.usage, {
    prompt_tokens: 4,
    completion_tokens: 40,
    total_tokens: 44,
    queue_ms: 7,
    load_ms: 12,
    time_to_first_token_ms: 3,
    total_ms: 50,
    tokens_per_second: 900,
  });
});

Deno.test("frameLines: frames that go together as consecutive lines, each one a frame", () => {
  const text = frameLines([{ id: "t", type: "tokens", tokens: [1, 2] }, { id: "t", type: "done" }]);
  assert.equal(text, '{"id":"t","type":"tokens","tokens":[1,2]}\n{"id":"t","type":"done"}\n');
  assert.equal(frameLines([]), "");
  assert.equal(
    frameLine({ id: "t", type: "done" }) + frameLine({ id: "u", type: "done" }),
    frameLines([
      { id: "t", type: "done" },
      { id: "u", type: "done" },
    ]),
  );
});
