/**
 * `lode serve --http` driven by the SDKs people point at a local server, through the Responses API
 * (`POST /v1/responses`): the official `openai` client, the Vercel AI SDK (`createOpenAI({ baseURL })`,
 * whose models post there) and LangChain (`ChatOpenAI({ useResponsesApi: true })`), plain and streamed,
 * on the real stories260K; and browsers: CORS preflights from loopback origins, from an origin named by
 * `--allow-origin`, one named by the config file's `allow_origins`, and from any other (refused).
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, Output, streamText } from "ai";
import { ChatOpenAI } from "@langchain/openai";
import { runLode } from "./support/lode_cli.ts";
import { startServe, storeWithStories } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { freePort, untilUp } from "./support/free_port.ts";

const MODEL = "stories260K";
const PROMPT = "Once upon a time";
const FLAG_ORIGIN = "https://app.example.com";
const FILE_ORIGIN = "http://lan.example:8080";

/** Runs `body` against `lode serve --http` with `--allow-origin FLAG_ORIGIN` and `allow_origins: [FILE_ORIGIN]`. */
async function withServe(body: (url: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const config = `${dir}/config.json`;
    await Deno.writeTextFile(config, JSON.stringify({ allow_origins: [FILE_ORIGIN] }));
    const port = freePort();
    const daemon = await startServe(
      dir,
      store,
      ["--model", MODEL, "--http", `127.0.0.1:${port}`, "--allow-origin", FLAG_ORIGIN],
      { env: { LODE_CONFIG: config } },
    );
    try {
      const url = `http://127.0.0.1:${port}/v1`;
      await untilUp(url);
      await body(url);
    } finally {
      const end = await daemon.stop();
      assert.equal(end.code, 0, end.stderr);
    }
  }, { prefix: "lode-serve-sdks-" });
}

Deno.test("lode serve --http: the Responses API through the openai client, the Vercel AI SDK and LangChain; CORS", async (t) => {
  await withServe(async (url) => {
    await t.step("openai: responses.create plain and streamed", async () => {
      const client = new OpenAI({ baseURL: url, apiKey: "unused", maxRetries: 0 });
      const { data: r, request_id } = await client.responses.create({
        model: MODEL,
        input: PROMPT,
        max_output_tokens: 10,
        temperature: 0,
      }).withResponse();
      assert.match(String(request_id), /^req_/);
      assert.equal(r.object, "response");
      assert.ok(r.output_text.length > 0);
      assert.ok(r.usage!.output_tokens > 0);
      const stream = client.responses.stream({
        model: MODEL,
        input: PROMPT,
        max_output_tokens: 10,
        temperature: 0,
      });
      let deltas = "";
      stream.on("response.output_text.delta", (e) => deltas += e.delta);
      const final = await stream.finalResponse();
      assert.equal(final.output_text, r.output_text, "greedy: the same text, streamed or not");
      assert.equal(deltas, r.output_text);
    });

    await t.step("an unknown model: the same 404 on every endpoint, without the store's path", async () => {
      const client = new OpenAI({ baseURL: url, apiKey: "unused", maxRetries: 0 });
      const calls = [
        () => client.responses.create({ model: "nope", input: PROMPT }),
        () =>
          client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: PROMPT }] }),
        () => client.completions.create({ model: "nope", prompt: PROMPT }),
        () => client.embeddings.create({ model: "nope", input: PROMPT }),
        () => client.models.retrieve("nope"),
      ];
      for (const call of calls) {
        const e = await call().then(
          () => assert.fail("answered"),
          (e) => e as InstanceType<typeof OpenAI.APIError>,
        );
        assert.deepEqual([e.status, e.code, e.message], [
          404,
          "model_not_found",
          "404 The model 'nope' does not exist",
        ]);
        assert.doesNotMatch(JSON.stringify(e.error), /lode-serve-sdks-/, "no store path");
      }
    });

    await t.step("Vercel AI SDK: generateText, streamText, Output.object", async () => {
      const model = createOpenAI({ baseURL: url, apiKey: "unused" })(MODEL);
      const plain = await generateText({
        model,
        system: "Tell a story.",
        prompt: PROMPT,
        maxOutputTokens: 10,
      });
      assert.ok(plain.text.length > 0);
      assert.ok(["length", "stop"].includes(plain.finishReason), plain.finishReason);
      const used = plain.usage.outputTokens ?? 0;
      assert.ok(used > 0 && used <= 10, String(used));
      assert.match(plain.response.id, /^resp_/);
      const streamed = streamText({ model, prompt: PROMPT, maxOutputTokens: 10 });
      let text = "";
      for await (const part of streamed.textStream) text += part;
      assert.ok(text.length > 0);
      assert.ok(((await streamed.usage).outputTokens ?? 0) > 0);
      const structured = await generateText({
        model,
        prompt: PROMPT,
        maxOutputTokens: 40,
        output: Output.object({
          schema: jsonSchema<{ ok: boolean }>({
            type: "object",
            properties: { ok: { type: "boolean" } },
            required: ["ok"],
            additionalProperties: false,
          }),
        }),
      });
      assert.equal(typeof structured.output.ok, "boolean", "the grammar forces the shape");
    });

    await t.step("LangChain: ChatOpenAI({ useResponsesApi: true }) invoke and stream", async () => {
      const chat = new ChatOpenAI({
        model: MODEL,
        useResponsesApi: true,
        apiKey: "unused",
        maxTokens: 10,
        maxRetries: 0,
        configuration: { baseURL: url },
      });
      const message = await chat.invoke([["system", "Tell a story."], ["human", PROMPT]]);
      assert.ok(message.text.length > 0);
      assert.ok((message.usage_metadata?.output_tokens ?? 0) > 0);
      let text = "";
      for await (const chunk of await chat.stream(PROMPT)) text += chunk.text;
      assert.ok(text.length > 0);
    });

    await t.step(
      "CORS: loopback, --allow-origin and allow_origins preflights pass; another origin is refused",
      async () => {
        const preflight = (origin: string) =>
          fetch(`${url}/responses`, {
            method: "OPTIONS",
            headers: {
              origin,
              "access-control-request-method": "POST",
              "access-control-request-headers": "content-type, authorization",
            },
          });
        for (const origin of ["http://localhost:5173", FLAG_ORIGIN, FILE_ORIGIN]) {
          const r = await preflight(origin);
          await r.body?.cancel();
          assert.equal(r.status, 204, origin);
          assert.equal(r.headers.get("access-control-allow-origin"), origin);
          assert.equal(r.headers.get("access-control-allow-headers"), "content-type, authorization");
        }
        const refused = await preflight("https://evil.example");
        await refused.body?.cancel();
        assert.equal(refused.status, 403);
        assert.equal(refused.headers.get("access-control-allow-origin"), null);
        const page = await fetch(`${url}/responses`, {
          method: "POST",
          headers: { origin: FLAG_ORIGIN, "content-type": "application/json" },
          body: JSON.stringify({ model: MODEL, input: PROMPT, max_output_tokens: 4 }),
        });
        assert.equal(page.status, 200);
        assert.equal(page.headers.get("access-control-allow-origin"), FLAG_ORIGIN);
        assert.equal((await page.json()).object, "response");
      },
    );
  });
});

Deno.test("lode serve: --allow-origin that is not an origin, or without --http, is a usage error", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    for (
      const [args, says] of [
        [
          ["--http", "0", "--allow-origin", "app.example.com"],
          /--allow-origin "app\.example\.com" is not a web origin/,
        ],
        [["--allow-origin", FLAG_ORIGIN], /--allow-origin needs --http/],
      ] as const
    ) {
      const end = await runLode(["serve", "--socket", `${dir}/lode.sock`, ...args], { store });
      assert.equal(end.code, 2, end.stderr);
      assert.match(end.stderr, says);
    }
  }, { prefix: "lode-serve-origin-" });
});
