/**
 * What OpenAI and llama.cpp clients send that the front once refused or ignored: prompt lists, `top_p: 0`,
 * `seed: -1`, `tool_choice` without tools, `top_logprobs`; the `x-request-id` header; one unknown-model error.
 */
import assert from "node:assert/strict";
import { apiError, MODEL, PROMPT, withFront } from "../../../tests/support/openai_front.ts";

Deno.test("completions: a list of prompts gets one choice per prompt, in order, plain and streamed", async () => {
  await withFront({}, async ({ client, records }) => {
    const prompts = [PROMPT, "One day", PROMPT];
    const batch = await client.completions.create({
      model: MODEL,
      prompt: prompts,
      max_tokens: 6,
      temperature: 0,
    });
    assert.deepEqual(batch.choices.map((c) => c.index), [0, 1, 2]);
    assert.equal(batch.choices[0]!.text, batch.choices[2]!.text, "the same prompt, greedy: the same text");
    const single = await client.completions.create({
      model: MODEL,
      prompt: PROMPT,
      max_tokens: 6,
      temperature: 0,
    });
    assert.equal(batch.choices[0]!.text, single.choices[0]!.text);
    assert.ok(batch.usage!.completion_tokens >= 3 && batch.usage!.completion_tokens <= 18);
    assert.equal(
      records.filter((r) => r.request_id === batch.id).length,
      3,
      "one activity record per prompt",
    );

    const stream = await client.completions.create({
      model: MODEL,
      prompt: prompts,
      max_tokens: 6,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const texts = ["", "", ""];
    const finishes: number[] = [];
    let usage = 0;
    for await (const c of stream) {
      for (const choice of c.choices) {
        texts[choice.index] += choice.text;
        if (choice.finish_reason !== null) finishes.push(choice.index);
      }
      if (c.usage) usage = c.usage.completion_tokens;
    }
    assert.deepEqual(texts, batch.choices.map((c) => c.text));
    assert.deepEqual(finishes, [0, 1, 2]);
    assert.equal(usage, batch.usage!.completion_tokens);

    const many = await apiError(client.completions.create({ model: MODEL, prompt: Array(21).fill("x") }));
    assert.equal(many.status, 400);
    assert.equal(many.param, "prompt");
  });
});

Deno.test("top_p 0 is greedy and seed -1 is random, as OpenAI and llama.cpp clients send them", async () => {
  await withFront({}, async ({ client }) => {
    const greedy = await client.completions.create({
      model: MODEL,
      prompt: PROMPT,
      max_tokens: 8,
      temperature: 0,
    });
    const topP0 = await client.completions.create({
      model: MODEL,
      prompt: PROMPT,
      max_tokens: 8,
      temperature: 1,
      top_p: 0,
    });
    assert.equal(topP0.choices[0]!.text, greedy.choices[0]!.text);
    const random = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: PROMPT }],
      max_tokens: 4,
      seed: -1,
    });
    assert.equal(random.object, "chat.completion");
  });
});

Deno.test("400s are OpenAI's invalid_request_error with param and a hint about the request, never USAGE", async () => {
  await withFront({}, async ({ client, http }) => {
    const messages = [{ role: "user" as const, content: "hi" }];
    const choice = await apiError(
      client.chat.completions.create({ model: MODEL, messages, tool_choice: "auto" }),
    );
    assert.equal(choice.status, 400);
    assert.equal(choice.param, "tool_choice");
    const top = await apiError(client.chat.completions.create({ model: MODEL, messages, top_logprobs: 3 }));
    assert.equal(top.param, "top_logprobs");
    for (const body of [{ top_p: 2 }, { temperature: -1 }, { max_tokens: 0 }]) {
      const r = await fetch(`${http.url}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL, messages, ...body }),
      });
      const { error } = await r.json();
      assert.equal(r.status, 400);
      assert.equal(error.type, "invalid_request_error");
      assert.equal(error.code, "BAD_REQUEST");
      assert.equal(error.param, Object.keys(body)[0]);
      assert.doesNotMatch(error.hint, /--[a-z]|`lode |docs\/protocol/, error.hint);
    }
  });
});

Deno.test("x-request-id on every answer (JSON, stream, error) reaches the SDK as request_id", async () => {
  await withFront({}, async ({ client, http }) => {
    const { request_id } = await client.models.list().withResponse();
    assert.match(String(request_id), /^req_[0-9a-f]{24}$/);
    const { response } = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
      stream: true,
    }).withResponse();
    assert.match(String(response.headers.get("x-request-id")), /^req_/);
    await response.body?.cancel();
    const missing = await apiError(client.embeddings.create({ model: "nope", input: "x" }));
    assert.match(String(missing.requestID), /^req_/);
    const unknown = await fetch(`${http.url}/nothing`);
    await unknown.body?.cancel();
    assert.match(String(unknown.headers.get("x-request-id")), /^req_/);
  });
});

Deno.test("an unknown model is the same 404 model_not_found on every endpoint", async () => {
  await withFront({}, async ({ client }) => {
    const messages = [{ role: "user" as const, content: "hi" }];
    const errors = await Promise.all([
      apiError(client.completions.create({ model: "nope", prompt: "x" })),
      apiError(client.completions.create({ model: "nope", prompt: "x", stream: true })),
      apiError(client.chat.completions.create({ model: "nope", messages })),
      apiError(client.responses.create({ model: "nope", input: "x" })),
      apiError(client.responses.create({ model: "nope", input: "x", stream: true })),
      apiError(client.embeddings.create({ model: "nope", input: "x" })),
      apiError(client.models.retrieve("nope")),
    ]);
    for (const e of errors) {
      assert.deepEqual([e.status, e.code, e.param, e.type, e.message], [
        404,
        "model_not_found",
        "model",
        "invalid_request_error",
        "404 The model 'nope' does not exist",
      ]);
    }
  });
});
