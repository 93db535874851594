/**
 * Structured output through `lode serve --http` from the SDKs' own schema generators, on a generated
 * random-weight chat model: the official `openai` client (`zodResponseFormat` + `chat.completions.parse`,
 * zod 3), the Vercel AI SDK (`generateText` + `Output.object` over `@ai-sdk/openai-compatible`, zod 4),
 * LangChain (`ChatOpenAI.withStructuredOutput`, zod 4) and Pydantic-written schemas (JSON fixtures). The
 * model writes nonsense, so the assertions are on what the grammar forces: bounds, enums, literals, nulls.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, Output, streamText } from "ai";
import { ChatOpenAI } from "@langchain/openai";
import { z } from "zod";
import * as z4 from "zod/v4";
import { writeChatModel } from "./support/chat_model.ts";
import { runLode } from "./support/lode_cli.ts";
import { startServe } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { freePort } from "./support/free_port.ts";

const MODEL = "chat";
/** Two conversations: at temperature 0 each gives one answer (deterministic), the two different ones. */
const ASKS = ["Describe someone.", "Who is at the door?"].map((
  content,
) => [{ role: "user" as const, content }]);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** What every SDK's schema below forces, checked on the parsed answer. */
function assertPerson(value: Record<string, unknown>, options: { scores: boolean }): void {
  const shown = JSON.stringify(value);
  const age = value.age as number;
  assert.ok(Number.isInteger(age) && age >= 0 && age <= 120, `age: ${shown}`);
  assert.ok(["red", "green", "blue"].includes(value.color as string), `color: ${shown}`);
  const shape = value.shape as Record<string, unknown>;
  if (shape.kind === "circle") assert.deepEqual(Object.keys(shape).sort(), ["kind", "r"], shown);
  else assert.deepEqual([shape.kind, Object.keys(shape).sort()], ["square", ["kind", "side"]], shown);
  const size = (shape.r ?? shape.side) as number;
  assert.ok(Number.isInteger(size) && size >= 1 && size <= 9, `shape: ${shown}`);
  for (const place of [value.home, value.work]) {
    const city = (place as Record<string, unknown>).city as string;
    assert.ok(typeof city === "string" && [...city].length <= 8, `city: ${shown}`);
  }
  assert.ok(value.nick === null || (typeof value.nick === "string" && [...value.nick].length <= 8), shown);
  if (options.scores) {
    const scores = Object.values(value.scores as Record<string, number>);
    assert.ok(scores.every((s) => Number.isInteger(s) && s >= 0 && s <= 9), `scores: ${shown}`);
  }
}

/** zod 3 (the openai client's helper refuses records: strict Structured Outputs has none). */
const address3 = z.object({ city: z.string().max(8) });
const person3 = z.object({
  age: z.number().int().min(0).max(120),
  color: z.enum(["red", "green", "blue"]),
  shape: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("circle"), r: z.number().int().min(1).max(9) }),
    z.object({ kind: z.literal("square"), side: z.number().int().min(1).max(9) }),
  ]),
  home: address3,
  work: address3,
  nick: z.string().max(8).nullable(),
});

/** zod 4, with the address registered so that it is written once under $defs and referenced. */
const address4 = z4.object({ city: z4.string().max(8) }).meta({ id: "Address" });
const person4 = z4.object({
  age: z4.int().min(0).max(120),
  color: z4.enum(["red", "green", "blue"]),
  shape: z4.discriminatedUnion("kind", [
    z4.object({ kind: z4.literal("circle"), r: z4.int().min(1).max(9) }),
    z4.object({ kind: z4.literal("square"), side: z4.int().min(1).max(9) }),
  ]),
  home: address4,
  work: address4,
  nick: z4.string().max(8).nullable(),
  scores: z4.record(z4.string().max(6), z4.int().min(0).max(9)),
});

Deno.test("lode serve --http: structured output from the openai client, the Vercel AI SDK, LangChain and Pydantic schemas", async (t) => {
  await withTempDir(async (dir) => {
    const store = `${dir}/store`;
    const imported = await runLode(["import", await writeChatModel(`${dir}/chat.gguf`), "--name", MODEL], {
      store,
    });
    assert.equal(imported.code, 0, imported.stderr);
    const port = freePort();
    const baseURL = `http://127.0.0.1:${port}/v1`;
    const daemon = await startServe(dir, store, ["--model", MODEL, "--http", `127.0.0.1:${port}`]);
    try {
      const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });
      await until("the HTTP front", () => client.models.list().then((page) => page.data));

      await t.step(
        "openai: zodResponseFormat + chat.completions.parse (zod 3, $ref definitions)",
        async () => {
          const format = zodResponseFormat(person3, "person");
          assert.match(JSON.stringify(format.json_schema.schema), /"\$ref":"#\/definitions\//);
          for (const ASK of ASKS) {
            const completion = await client.chat.completions.parse({
              model: MODEL,
              messages: ASK,
              response_format: format,
              max_tokens: 400,
              temperature: 0,
            });
            const choice = completion.choices[0]!;
            assert.equal(choice.finish_reason, "stop", choice.message.content ?? "");
            assertPerson(choice.message.parsed as Record<string, unknown>, { scores: false });
          }
        },
      );

      await t.step(
        "Vercel AI SDK: generateText + Output.object over @ai-sdk/openai-compatible (zod 4, $defs)",
        async () => {
          assert.match(JSON.stringify(z4.toJSONSchema(person4)), /"\$ref":"#\/\$defs\/Address"/);
          const lode = createOpenAICompatible({ name: "lode", baseURL, supportsStructuredOutputs: true });
          for (const ASK of ASKS) {
            const result = await generateText({
              model: lode.chatModel(MODEL),
              output: Output.object({ schema: person4 }),
              messages: ASK,
              maxOutputTokens: 400,
              temperature: 0,
              maxRetries: 0,
            });
            assertPerson(result.output as Record<string, unknown>, { scores: true });
          }
        },
      );

      await t.step(
        "Vercel AI SDK: streamText + Output.object streams partial objects, then the whole",
        async () => {
          const lode = createOpenAICompatible({ name: "lode", baseURL, supportsStructuredOutputs: true });
          const result = streamText({
            model: lode.chatModel(MODEL),
            output: Output.object({ schema: person4 }),
            messages: ASKS[0]!,
            maxOutputTokens: 400,
            temperature: 0,
            maxRetries: 0,
          });
          let partials = 0;
          for await (const _ of result.partialOutputStream) partials++;
          assert.ok(partials > 1, `${partials} partial objects`);
          assertPerson(await result.output as Record<string, unknown>, { scores: true });
        },
      );

      await t.step("LangChain: ChatOpenAI.withStructuredOutput (zod 4)", async () => {
        const chat = new ChatOpenAI({
          model: MODEL,
          apiKey: "unused",
          configuration: { baseURL },
          maxRetries: 0,
          maxTokens: 400,
          temperature: 0,
        });
        const structured = chat.withStructuredOutput(person4, { name: "person" });
        for (const ASK of ASKS) {
          const value = await structured.invoke(ASK);
          assertPerson(value as Record<string, unknown>, { scores: true });
        }
      });

      await t.step(
        "Pydantic's schema (as a JSON fixture): $defs, oneOf + discriminator, anyOf null, exclusiveMinimum",
        async () => {
          const schema = JSON.parse(
            await Deno.readTextFile(new URL("./fixtures/pydantic/person.json", import.meta.url)),
          );
          for (const ASK of ASKS) {
            const completion = await client.chat.completions.create({
              model: MODEL,
              messages: ASK,
              response_format: { type: "json_schema", json_schema: { name: "Person", schema } },
              max_tokens: 400,
              temperature: 0,
            });
            const value = JSON.parse(completion.choices[0]!.message.content!);
            assertPerson({ ...value, work: value.work ?? value.home }, { scores: true });
            assert.ok(Object.keys(value.scores).length <= 3, JSON.stringify(value));
            const floor = value.home.floor;
            assert.ok(
              floor === null || (Number.isInteger(floor) && floor >= 0 && floor <= 20),
              JSON.stringify(value),
            );
          }
        },
      );

      await t.step(
        "a constraint only checked after generation fails with 422 SCHEMA_MISMATCH; an unsupported one with 400 SCHEMA_INVALID",
        async () => {
          const ask = (schema: Record<string, unknown>) =>
            client.chat.completions.create({
              model: MODEL,
              messages: ASKS[0]!,
              response_format: { type: "json_schema", json_schema: { name: "x", schema } },
              max_tokens: 100,
            }).then(() => assert.fail("expected an error"), (e: unknown) =>
              e as InstanceType<typeof OpenAI.APIError>);
          // Three characters at most can never match twenty digits.
          const mismatch = await ask({
            type: "object",
            properties: { code: { type: "string", maxLength: 3, pattern: "^[0-9]{20}$" } },
          });
          assert.equal(mismatch.status, 422);
          assert.equal((mismatch.error as Record<string, unknown>).code, "SCHEMA_MISMATCH");
          assert.match(mismatch.message, /at \/code: .* does not match/);
          const refused = await ask({ type: "object", properties: { a: { not: { type: "string" } } } });
          assert.equal(refused.status, 400);
          assert.equal((refused.error as Record<string, unknown>).code, "SCHEMA_INVALID");
          assert.match(refused.message, /at \/properties\/a: "not" is not supported/);
        },
      );
    } finally {
      const end = await daemon.stop();
      assert.equal(end.code, 0, end.stderr);
    }
  }, { prefix: "lode-structured-" });
});
