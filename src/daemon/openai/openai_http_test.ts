/**
 * The OpenAI-compatible front against the official `openai` npm client as a
 * real client, over real HTTP on 127.0.0.1, with the real stories260K model
 * (an in-process router of the real backend, threads 1).
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { FrameClient, terminal, tokenText } from "../../../tests/support/frame_client.ts";
import { apiError, MODEL, PROMPT, withFront } from "../../../tests/support/openai_front.ts";
import { InferenceServer } from "../server/inference_server.ts";
import { listenUnixSocket } from "../wire/socket_path.ts";

Deno.test("models.list and models.retrieve list the router's models", async () => {
  await withFront({}, async ({ client }) => {
    const models = [];
    for await (const m of client.models.list()) models.push(m);
    assert.deepEqual(models.map((m) => [m.id, m.object, m.owned_by]), [[MODEL, "model", "lode"]]);
    const one = await client.models.retrieve(MODEL);
    assert.equal(one.id, MODEL);
    const missing = await apiError(client.models.retrieve("nope"));
    assert.equal(missing.status, 404);
    assert.equal(missing.code, "model_not_found");
    assert.equal(missing.message, "404 The model 'nope' does not exist");
  });
});

Deno.test("completions.create (greedy) gives the socket's generate text; both fronts share one router", async () => {
  await withFront({}, async ({ client, router, queue, records }) => {
    const dir = await Deno.makeTempDir({ prefix: "lode-oai-" });
    const socket = await listenUnixSocket(`${dir}/lode.sock`);
    const server = new InferenceServer({ router, queue });
    const serving = server.serve(socket.listener);
    const frames = await FrameClient.connect(socket.path);
    try {
      await frames.write({
        id: "g1",
        op: "generate",
        model: MODEL,
        prompt: PROMPT,
        max_tokens: 40,
        temperature: 0,
      });
      const socketFrames = await frames.frames("g1");
      assert.equal(terminal(socketFrames).type, "done");

      const completion = await client.completions.create({
        model: MODEL,
        prompt: PROMPT,
        max_tokens: 40,
        temperature: 0,
      });
      assert.equal(completion.object, "text_completion");
      assert.match(completion.id, /^cmpl-/);
      assert.equal(completion.choices[0]!.text, tokenText(socketFrames));
      assert.match(completion.choices[0]!.text, /^, there was a little girl named Lily/);
      assert.equal(completion.choices[0]!.finish_reason, "length");
      assert.equal(completion.usage!.completion_tokens, 40);
      assert.equal(completion.usage!.total_tokens, completion.usage!.prompt_tokens + 40);
      assert.equal(router.loads, 1, "the socket and HTTP fronts share the loaded model");
      const record = records.find((r) => r.request_id === completion.id)!;
      assert.equal(record.op, "generate");
      assert.equal(record.outcome, "ok");
      assert.equal(record.completion_tokens, 40);
      assert.equal(record.prompt, PROMPT, "the activity log decides whether to keep it");
    } finally {
      frames.close();
      await server.drain({ graceMs: 0 });
      await server.close({ graceMs: 100 });
      await socket.close();
      await serving;
      await frames.ended;
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("chat.completions.create: one JSON, and a stream whose chunks add up to the same text", async () => {
  await withFront({}, async ({ client }) => {
    const messages = [{ role: "user" as const, content: "Tell me a story." }];
    const whole = await client.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 30,
      temperature: 0,
    });
    assert.equal(whole.object, "chat.completion");
    assert.equal(whole.choices[0]!.message.role, "assistant");
    const text = whole.choices[0]!.message.content!;
    assert.ok(text.length > 0);
    assert.equal(whole.choices[0]!.finish_reason, "length");
    assert.equal(whole.usage!.completion_tokens, 30);

    const stream = await client.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 30,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const parts: string[] = [];
    const finishes: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const c of stream) {
      chunks++;
      assert.equal(c.object, "chat.completion.chunk");
      if (c.usage) usage = c.usage;
      const choice = c.choices[0];
      if (!choice) continue;
      if (chunks === 1) assert.equal(choice.delta.role, "assistant");
      parts.push(choice.delta.content ?? "");
      finishes.push(choice.finish_reason);
    }
    assert.equal(parts.join(""), text);
    assert.ok(chunks > 5, `streamed in ${chunks} chunks`);
    assert.deepEqual(finishes.filter((f) => f !== null), ["length"]);
    assert.equal(finishes.at(-1), "length");
    assert.equal(usage?.completion_tokens, 30);
  });
});

Deno.test("completions stream: text chunks, finish_reason from the stop reason (eos/stop → stop)", async () => {
  await withFront({}, async ({ client }) => {
    const stream = await client.completions.create({
      model: MODEL,
      prompt: PROMPT,
      max_tokens: 60,
      temperature: 0,
      stop: ["Lily"],
      stream: true,
    });
    let text = "";
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0]!.text;
      finish = c.choices[0]!.finish_reason ?? finish;
    }
    assert.equal(text, ", there was a little girl named ");
    assert.equal(finish, "stop");
  });
});

Deno.test("response_format json_schema constrains the output", async () => {
  await withFront({}, async ({ client }) => {
    const schema = { type: "object", properties: { happy: { type: "boolean" } }, required: ["happy"] };
    const answer = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Is Lily happy?" }],
      max_tokens: 40,
      response_format: { type: "json_schema", json_schema: { name: "mood", schema } },
    });
    const parsed = JSON.parse(answer.choices[0]!.message.content!);
    assert.equal(typeof parsed.happy, "boolean");
  });
});

Deno.test("embeddings.create: 64-dim vectors (base64 by default, floats on request), usage", async () => {
  await withFront({}, async ({ client }) => {
    const input = ["Once upon a time", "there was a cat"];
    const decoded = await client.embeddings.create({ model: MODEL, input });
    assert.equal(decoded.object, "list");
    assert.equal(decoded.data.length, 2);
    for (const [i, d] of decoded.data.entries()) {
      assert.equal(d.index, i);
      assert.equal(d.embedding.length, 64);
      const norm = Math.hypot(...d.embedding);
      assert.ok(Math.abs(norm - 1) < 1e-3, `unit vector (norm ${norm})`);
    }
    assert.ok(decoded.usage.prompt_tokens >= 6);
    assert.equal(decoded.usage.total_tokens, decoded.usage.prompt_tokens);

    const floats = await client.embeddings.create({
      model: MODEL,
      input: input[0]!,
      encoding_format: "float",
    });
    assert.equal(floats.data.length, 1);
    const a = floats.data[0]!.embedding;
    const b = decoded.data[0]!.embedding;
    assert.ok(a.every((x, i) => Math.abs(x - b[i]!) < 1e-6), "float32 base64 decodes to the same vector");

    const wrong = await apiError(client.embeddings.create({ model: MODEL, input: "x", dimensions: 32 }));
    assert.equal(wrong.status, 400);
    assert.equal(wrong.param, "dimensions");
  });
});

Deno.test("bad requests are 400 APIErrors with lode's code and the field; unknown model 404", async () => {
  await withFront({}, async ({ client, records }) => {
    const empty = await apiError(client.chat.completions.create({ model: MODEL, messages: [] }));
    assert.ok(empty instanceof OpenAI.BadRequestError);
    assert.equal(empty.status, 400);
    assert.equal(empty.code, "BAD_REQUEST");
    assert.equal(empty.param, "messages");
    assert.equal(empty.type, "invalid_request_error");

    const n = await apiError(client.completions.create({ model: MODEL, prompt: "x", n: 2 }));
    assert.equal(n.status, 400);
    assert.equal(n.param, "n");

    const tools = await apiError(client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hi" }],
      tools: [{ type: "function", function: { name: "f", parameters: {} } }],
    }));
    assert.equal(tools.param, "tools", JSON.stringify(tools.error));

    const schema = await apiError(client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hi" }],
      response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "date" } } },
    }));
    assert.equal(schema.status, 400);
    assert.equal(schema.code, "SCHEMA_INVALID");

    for (const stream of [false, true]) {
      const missing = await apiError(
        client.chat.completions.create({
          model: "nope",
          messages: [{ role: "user", content: "hi" }],
          stream,
        }),
      );
      assert.ok(missing instanceof OpenAI.NotFoundError, `stream: ${stream}`);
      assert.equal(missing.code, "model_not_found");
      assert.equal(missing.param, "model");
    }
    assert.ok(records.some((r) => r.model === "nope" && r.code === "MODEL_NOT_FOUND"));
  });
});
