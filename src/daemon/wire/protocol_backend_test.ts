import assert from "node:assert/strict";
import type { GenerateOptions } from "../../inference/backend.ts";
import { Request } from "./protocol.ts";
import { samplingFields, samplingOptions } from "./protocol_backend.ts";

Deno.test("samplingFields → the wire → samplingOptions: every backend sampling option comes back as it was, the signal stays home", () => {
  const options: Required<Omit<GenerateOptions, "signal">> = {
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
