import assert from "node:assert/strict";
import { isLodeError, LodeError } from "../../errors.ts";
import { inOpenAiTerms } from "./openai_errors.ts";
import { responsesRequest } from "./responses_request.ts";

Deno.test("responses: input items, instructions, sampling and text.format become the chat request", () => {
  const t = responsesRequest({
    model: "m",
    instructions: "Be brief.",
    input: [
      { role: "developer", content: "Answer in JSON." },
      {
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "Hi, " }, { type: "input_text", text: "you" }],
      },
      { role: "assistant", content: [{ type: "output_text", text: "Hello" }] },
      { role: "user", content: "Again" },
    ],
    max_output_tokens: 30,
    temperature: 0.5,
    top_p: 0,
    store: true,
    include: [],
    reasoning: null,
    metadata: { a: "b" },
    text: { format: { type: "json_schema", name: "x", strict: true, schema: { type: "object" } } },
    stream: true,
  }, "resp_1");
  assert.deepEqual(t.chat.request, {
    id: "resp_1",
    op: "chat",
    model: "m",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "system", content: "Answer in JSON." },
      { role: "user", content: "Hi, you" },
      { role: "assistant", content: "Hello" },
      { role: "user", content: "Again" },
    ],
    max_tokens: 30,
    temperature: 0.5,
    top_k: 1,
    json_schema: { type: "object" },
  });
  assert.equal(t.chat.stream, true);
  assert.deepEqual(t.body.metadata, { a: "b" });
  assert.deepEqual(responsesRequest({ model: "m", input: "Hi" }, "r").chat.request.messages, [
    { role: "user", content: "Hi" },
  ]);
});

Deno.test("responses: refused fields name the Responses field, not the chat one", () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [
      { input: "x", max_output_tokens: 0 },
      "max_output_tokens",
      /^responses request is invalid at max_output_tokens/,
    ],
    [{ input: "x", temperature: 3 }, "temperature", /temperature/],
    [{ input: [{ type: "reasoning", summary: [] }] }, "input.0.type", /"reasoning" are not supported/],
    [{ input: [{ type: "function_call_output", call_id: "c" }] }, "input.0.output", /expected a string/],
    [{ input: [{ role: "tool", content: "x" }] }, "input.0.role", /role/],
    [{ input: "x", text: { format: { type: "json_schema", schema: "no" } } }, "text.format.schema", /schema/],
    [{ input: "x", background: true }, "background", /background/],
    [{ input: 5 }, "input", /a string or a non-empty list/],
  ];
  for (const [body, field, says] of cases) {
    assert.throws(
      () => responsesRequest({ model: "m", ...body }, "r"),
      (e) => isLodeError(e, "BAD_REQUEST") && e.details.field === field && says.test(e.message),
      JSON.stringify(body),
    );
  }
});

Deno.test("errors in OpenAI terms: model_not_found without the store's path; USAGE as a request field", () => {
  const missing = inOpenAiTerms(
    new LodeError("MODEL_NOT_FOUND", 'no model named "x" in /home/u/models', {
      details: { name: "x", store: "/s" },
    }),
  );
  assert.deepEqual([missing.code, missing.message, missing.param, missing.details], [
    "model_not_found",
    "The model 'x' does not exist",
    "model",
    { model: "x" },
  ]);
  const usage = inOpenAiTerms(
    new LodeError("USAGE", "topK must be an integer ≥ 0", { details: { topK: "-1" } }),
  );
  assert.deepEqual([usage.code, usage.status, usage.param], ["BAD_REQUEST", "BAD_REQUEST", "top_k"]);
  assert.doesNotMatch(usage.hint, /--help/);
  const full = inOpenAiTerms(new LodeError("CONTEXT_LENGTH_EXCEEDED", "too long"));
  assert.equal(full.code, "context_length_exceeded");
});
