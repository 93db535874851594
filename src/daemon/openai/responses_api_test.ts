import assert from "node:assert/strict";
import { apiError, MODEL, withFront } from "../../../tests/support/openai_front.ts";

Deno.test("responses.create: a response object with one output_text, usage, the request id", async () => {
  await withFront({}, async ({ client, records }) => {
    const { data: r, request_id } = await client.responses.create({
      model: MODEL,
      instructions: "Tell a story.",
      input: "Once upon a time",
      max_output_tokens: 12,
      temperature: 0,
    }).withResponse();
    assert.match(String(request_id), /^req_[0-9a-f]{24}$/);
    assert.match(r.id, /^resp_/);
    assert.equal(r.object, "response");
    assert.equal(r.model, MODEL);
    assert.ok(r.status === "completed" || r.status === "incomplete", r.status);
    assert.equal(r.output.length, 1);
    const item = r.output[0]!;
    assert.equal(item.type, "message");
    if (item.type !== "message") return;
    assert.equal(item.role, "assistant");
    assert.equal(item.content[0]!.type, "output_text");
    assert.ok(r.output_text.length > 0, "the SDK's output_text joins the text parts");
    assert.ok(r.usage!.input_tokens > 0);
    assert.ok(r.usage!.output_tokens > 0 && r.usage!.output_tokens <= 12);
    assert.equal(r.usage!.total_tokens, r.usage!.input_tokens + r.usage!.output_tokens);
    if (r.status === "incomplete") assert.equal(r.incomplete_details?.reason, "max_output_tokens");
    assert.equal(records.at(-1)?.outcome, "ok");
  });
});

Deno.test("responses.create stream: the event sequence, numbered, its deltas making the final text", async () => {
  await withFront({}, async ({ client }) => {
    const stream = await client.responses.create({
      model: MODEL,
      input: [
        { role: "system", content: "Tell a story." },
        { role: "user", content: [{ type: "input_text", text: "Once upon a time" }] },
      ],
      max_output_tokens: 16,
      temperature: 0,
      stream: true,
    });
    const types: string[] = [];
    const sequence: number[] = [];
    let deltas = "";
    let final = "";
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === "response.output_text.delta") deltas += event.delta;
      if (event.type === "response.completed" || event.type === "response.incomplete") {
        const item = event.response.output[0];
        final = item?.type === "message" && item.content[0]?.type === "output_text"
          ? item.content[0].text
          : "";
      }
    }
    assert.deepEqual(sequence, types.map((_, i) => i));
    const distinct = types.filter((t, i) => t !== types[i - 1]);
    assert.deepEqual(distinct.slice(0, 5), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
    ]);
    assert.deepEqual(distinct.slice(-4, -1), [
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
    ]);
    assert.ok(["response.completed", "response.incomplete"].includes(distinct.at(-1)!));
    assert.ok(deltas.length > 0);
    assert.equal(final, deltas);
  });
});

Deno.test("responses.stream helper: finalResponse", async () => {
  await withFront({}, async ({ client }) => {
    const stream = client.responses.stream({ model: MODEL, input: "Once upon a time", max_output_tokens: 8 });
    const final = await stream.finalResponse();
    assert.equal(final.object, "response");
    assert.ok(final.output_text.length > 0);
  });
});

Deno.test("responses: text.format json_schema goes through the chat's JSON-schema path", async () => {
  await withFront({}, async ({ client }) => {
    const r = await client.responses.create({
      model: MODEL,
      input: "Once upon a time",
      max_output_tokens: 60,
      text: {
        format: {
          type: "json_schema",
          name: "pick",
          strict: true,
          schema: {
            type: "object",
            properties: { ok: { type: "boolean" } },
            required: ["ok"],
            additionalProperties: false,
          },
        },
      },
    });
    assert.equal(r.text?.format?.type, "json_schema");
    if (r.status === "completed") assert.equal(typeof JSON.parse(r.output_text).ok, "boolean");
    else assert.match(r.output_text, /^\s*\{/);
  });
});

Deno.test("responses: refusals are OpenAI 400s naming the Responses field", async () => {
  await withFront({}, async ({ client }) => {
    const cases: [Record<string, unknown>, string][] = [
      [{ input: "x", max_output_tokens: 0 }, "max_output_tokens"],
      [{ input: [] }, "input"],
      [{ input: [{ role: "user", content: [{ type: "input_image", image_url: "x" }] }] }, "input.0.content"],
      [{ input: [{ type: "item_reference", id: "msg_1" }] }, "input.0.type"],
      [{ input: "x", previous_response_id: "resp_1" }, "previous_response_id"],
      [{ input: "x", tools: [{ type: "web_search" }] }, "tools.0.type"],
      [{ input: "x", tool_choice: "required" }, "tool_choice"],
      [{ input: "x", top_logprobs: 2 }, "top_logprobs"],
      [{ input: "x", text: { format: { type: "json_schema", name: "x" } } }, "text.format.schema"],
    ];
    for (const [body, param] of cases) {
      const e = await apiError(client.responses.create({ model: MODEL, ...body } as never));
      assert.equal(e.status, 400, JSON.stringify(body));
      assert.equal(e.type, "invalid_request_error");
      assert.equal(e.param, param, `${JSON.stringify(body)}: ${e.message}`);
      assert.match(String(e.requestID), /^req_/);
    }
    const missing = await apiError(client.responses.create({ model: "nope", input: "x" }));
    assert.equal(missing.status, 404);
    assert.equal(missing.code, "model_not_found");
  });
});
