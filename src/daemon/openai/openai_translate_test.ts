import assert from "node:assert/strict";
import { isLodeError } from "../../errors.ts";
import { chatRequest, completionRequest, embeddingsRequest } from "./openai_translate.ts";

const badField = (field: string) => (e: unknown) =>
  isLodeError(e, "BAD_REQUEST") && e.details.field === field;

Deno.test("completions: OpenAI fields map onto generate", () => {
  const t = completionRequest({
    model: "m",
    prompt: ["Once upon a time"],
    max_tokens: 20,
    temperature: 0.5,
    top_p: 0.9,
    seed: 7,
    stop: "\n",
    top_k: 40,
    repeat_penalty: 1.1,
    n: 1,
    echo: false,
    logprobs: null,
    frequency_penalty: 0.3,
    user: "ignored",
  }, "cmpl-1");
  assert.deepEqual(t.request, {
    id: "cmpl-1",
    op: "generate",
    model: "m",
    prompt: "Once upon a time",
    max_tokens: 20,
    temperature: 0.5,
    top_p: 0.9,
    seed: 7,
    stop: ["\n"],
    top_k: 40,
    repeat_penalty: 1.1,
  });
  assert.equal(t.stream, false);
  assert.equal(t.includeUsage, false);
});

Deno.test("completions: nulls are absent fields; stream options are read", () => {
  const t = completionRequest({
    model: "m",
    prompt: "x",
    max_tokens: null,
    temperature: null,
    stop: null,
    stream: true,
    stream_options: { include_usage: true },
  }, "c");
  assert.deepEqual(t.request, { id: "c", op: "generate", model: "m", prompt: "x" });
  assert.equal(t.stream, true);
  assert.equal(t.includeUsage, true);
});

Deno.test("completions: what lode cannot honour is a BAD_REQUEST naming the field", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ prompt: "x", n: 2 }, "n"],
    [{ prompt: "x", best_of: 3 }, "best_of"],
    [{ prompt: "x", echo: true }, "echo"],
    [{ prompt: "x", logprobs: 5 }, "logprobs"],
    [{ prompt: "x", suffix: "end" }, "suffix"],
    [{ prompt: [1, 2, 3] }, "prompt"],
    [{ prompt: [] }, "prompt"],
    [{ prompt: Array(21).fill("a") }, "prompt"],
    [{}, "prompt"],
    [{ prompt: "x", max_tokens: 0 }, "max_tokens"],
    [{ prompt: "x", temperature: 3 }, "temperature"],
    [{ prompt: "x", top_p: -0.1 }, "top_p"],
  ];
  for (const [body, field] of cases) {
    assert.throws(
      () => completionRequest({ model: "m", ...body }, "c"),
      badField(field),
      JSON.stringify(body),
    );
  }
  assert.throws(() => completionRequest({ prompt: "x" }, "c"), badField("model"));
  assert.throws(() => completionRequest([], "c"), badField("(body)"));
  assert.throws(
    () => completionRequest({ model: "m" }, "c"),
    (e) => isLodeError(e) && /^completions request is invalid at prompt: missing/.test(e.message),
  );
});

Deno.test("completions: a list of prompts, top_p 0 (greedy: top_k 1), seed -1 (random)", () => {
  const t = completionRequest({ model: "m", prompt: ["a", "b"], top_p: 0, seed: -1 }, "c");
  assert.deepEqual(t.prompts, ["a", "b"]);
  assert.deepEqual(t.request, { id: "c", op: "generate", model: "m", prompt: "a", top_k: 1 });
  assert.equal(completionRequest({ model: "m", prompt: ["a"] }, "c").prompts, undefined);
  const kept = completionRequest({ model: "m", prompt: "a", top_p: 0, top_k: 5, seed: 3 }, "c").request;
  assert.deepEqual([kept.top_k, kept.top_p, kept.seed], [5, undefined, 3]);
});

Deno.test("chat: tool_choice without tools and top_logprobs are refused, naming the field", () => {
  const messages = [{ role: "user", content: "hi" }];
  assert.throws(
    () => chatRequest({ model: "m", messages, tool_choice: "none" }, "c"),
    badField("tool_choice"),
  );
  assert.throws(() => chatRequest({ model: "m", messages, top_logprobs: 2 }, "c"), badField("top_logprobs"));
  assert.equal(chatRequest({ model: "m", messages, top_logprobs: null }, "c").request.op, "chat");
});

Deno.test("chat: developer → system, text parts joined, max_completion_tokens, response formats", () => {
  const t = chatRequest({
    model: "m",
    messages: [
      { role: "developer", content: "Be brief." },
      { role: "user", content: [{ type: "text", text: "Hello, " }, { type: "text", text: "there" }] },
      { role: "assistant", content: null },
    ],
    max_tokens: 5,
    max_completion_tokens: 9,
    response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "string" } } },
  }, "chatcmpl-1");
  assert.deepEqual(t.request, {
    id: "chatcmpl-1",
    op: "chat",
    model: "m",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hello, there" },
      { role: "assistant", content: "" },
    ],
    max_tokens: 9,
    json_schema: { type: "string" },
  });
  const object = chatRequest({
    model: "m",
    messages: [{ role: "user", content: "hi" }],
    response_format: { type: "json_object" },
  }, "c");
  assert.deepEqual(object.request.json_schema, { type: "object", additionalProperties: true });
  const text = chatRequest({
    model: "m",
    messages: [{ role: "user", content: "hi" }],
    response_format: { type: "text" },
  }, "c");
  assert.equal(text.request.json_schema, undefined);
});

Deno.test("chat: refused shapes", () => {
  const user = [{ role: "user", content: "hi" }];
  const cases: [Record<string, unknown>, string][] = [
    [{ messages: [] }, "messages"],
    [{ messages: [{ role: "robot", content: "x" }] }, "messages.0.role"],
    [{ messages: [{ role: "tool", content: "x" }] }, "messages.0.tool_call_id"],
    [
      { messages: [{ role: "user", content: "x", tool_calls: [] }, ...user], tool_choice: "auto" },
      "tool_choice",
    ],
    [
      { messages: user, tools: [{ type: "function", function: { name: "f" } }], tool_choice: "any" },
      "tool_choice",
    ],
    [{ messages: user, functions: [{ name: "f" }] }, "functions"],
    [{ messages: user, tools: [{ type: "function", function: { name: "a b" } }] }, "tools.0.function.name"],
    [
      {
        messages: user,
        tools: [{ type: "function", function: { name: "f" } }],
        response_format: { type: "json_object" },
      },
      "response_format",
    ],
    [
      { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] },
      "messages.0.content",
    ],
    [{ messages: user, tools: [{ type: "function" }] }, "tools.0.function"],
    [{ messages: user, tools: [{ type: "web_search" }] }, "tools.0.type"],
    [{ messages: user, logprobs: true }, "logprobs"],
    [
      { messages: user, response_format: { type: "json_schema", json_schema: { name: "x" } } },
      "response_format.json_schema.schema",
    ],
    [{ messages: user, stop: [""], max_tokens: -1 }, "max_tokens"],
  ];
  for (const [body, field] of cases) {
    assert.throws(() => chatRequest({ model: "m", ...body }, "c"), badField(field), JSON.stringify(body));
  }
  // Empty tool lists and empty stop strings are harmless.
  assert.equal(
    chatRequest({ model: "m", messages: user, tools: [], stop: [""] }, "c").request.stop,
    undefined,
  );
});

Deno.test("embeddings: input, encoding_format, dimensions", () => {
  const t = embeddingsRequest(
    { model: "m", input: ["a", "b"], encoding_format: "base64", dimensions: 64 },
    "e1",
  );
  assert.deepEqual(t, {
    request: { id: "e1", op: "embed", model: "m", input: ["a", "b"] },
    base64: true,
    dimensions: 64,
  });
  assert.deepEqual(embeddingsRequest({ model: "m", input: "a" }, "e").base64, false);
  assert.throws(() => embeddingsRequest({ model: "m", input: [] }, "e"), badField("input"));
  assert.throws(() => embeddingsRequest({ model: "m", input: [[1, 2]] }, "e"), badField("input"));
  assert.throws(
    () => embeddingsRequest({ model: "m", input: "a", encoding_format: "hex" }, "e"),
    badField("encoding_format"),
  );
});

Deno.test("chat: tools, a named tool_choice, assistant tool_calls and tool messages become the chat op's fields", () => {
  const { request } = chatRequest({
    model: "m",
    messages: [
      { role: "user", content: "Weather?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{
          id: "call_1",
          type: "function",
          function: { name: "get_weather", arguments: '{"c":1}' },
        }],
      },
      { role: "tool", tool_call_id: "call_1", content: [{ type: "text", text: "21" }] },
    ],
    tools: [{
      type: "function",
      function: { name: "get_weather", description: "W", parameters: { type: "object" } },
    }],
    tool_choice: { type: "function", function: { name: "get_weather" } },
    parallel_tool_calls: false,
  }, "c");
  assert.deepEqual(request.messages, [
    { role: "user", content: "Weather?" },
    {
      role: "assistant",
      content: "",
      tool_calls: [{ id: "call_1", name: "get_weather", arguments: '{"c":1}' }],
    },
    { role: "tool", content: "21", tool_call_id: "call_1" },
  ]);
  assert.deepEqual(request.tools, [{
    name: "get_weather",
    description: "W",
    parameters: { type: "object" },
  }]);
  assert.deepEqual(request.tool_choice, { name: "get_weather" });
  assert.equal(request.parallel_tool_calls, false);
});
