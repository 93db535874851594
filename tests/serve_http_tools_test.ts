/**
 * Tools (function calling) through `lode serve --http` on a generated ChatML chat model (random weights:
 * the tests assert on shapes and on what the grammar forces, never on words), driven by three client
 * stacks: the official `openai` client (plain, streamed, forced, a tool-result turn, refusals), the Vercel
 * AI SDK (`generateText` with `tools` through `@ai-sdk/openai-compatible`) and LangChain (`bindTools`); and
 * the daemon's own socket (`DaemonClient`: `tool_call` frames, `done.tool_calls`).
 * node-llama-cpp's ChatML wrapper has no call syntax of its own: it uses the generic `||call: name(…)`.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { generateText, isStepCount, tool as aiTool } from "ai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { ChatOpenAI } from "@langchain/openai";
import { HumanMessage, ToolMessage } from "@langchain/core/messages";
import { tool as lcTool } from "@langchain/core/tools";
import { z } from "zod/v4";
import { DaemonClient } from "../src/daemon/wire/client.ts";
import type { ToolCallDelta } from "../src/inference/backend.ts";
import { writeChatModel } from "./support/chat_model.ts";
import { runLode } from "./support/lode_cli.ts";
import { startServe } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { freePort } from "./support/free_port.ts";

const MODEL = "chat";

/** A tool whose arguments a grammar bounds (a boolean and an enum): a forced call always completes. */
const WEATHER: OpenAI.ChatCompletionFunctionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather where the user is",
    parameters: {
      type: "object",
      properties: { precise: { type: "boolean" }, unit: { enum: ["celsius", "fahrenheit"] } },
      required: ["precise", "unit"],
      additionalProperties: false,
    },
  },
};
const TIME: OpenAI.ChatCompletionFunctionTool = {
  type: "function",
  function: { name: "get_time", description: "The time now", parameters: { type: "object", properties: {} } },
};

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  for (let tries = 0; tries < 400; tries++) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${what} after 400 tries`);
}

/** Asserts a forced call of `get_weather`: its arguments parse and hold what the schema forces. */
function assertWeatherCall(call: { name: string; arguments: string }): void {
  assert.equal(call.name, "get_weather");
  const args = JSON.parse(call.arguments);
  assert.equal(typeof args.precise, "boolean", call.arguments);
  assert.ok(["celsius", "fahrenheit"].includes(args.unit), call.arguments);
}

Deno.test("lode serve --http: tools with the openai client, the Vercel AI SDK and LangChain", async (t) => {
  await withTempDir(async (dir) => {
    const store = `${dir}/store`;
    const model = await writeChatModel(`${dir}/chat.gguf`);
    const imported = await runLode(["import", model, "--name", MODEL], { store });
    assert.equal(imported.code, 0, imported.stderr);
    const port = freePort();
    const baseURL = `http://127.0.0.1:${port}/v1`;
    const daemon = await startServe(dir, store, ["--model", MODEL, "--http", `127.0.0.1:${port}`]);
    try {
      const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });
      await until("the HTTP front", () => client.models.list().then(() => true));
      const base = { model: MODEL, temperature: 0, max_tokens: 100 } as const;
      const ask: OpenAI.ChatCompletionMessageParam = { role: "user", content: "What is the weather?" };

      await t.step("tool_choice required: the answer is a call, finish_reason tool_calls", async () => {
        const c = await client.chat.completions.create({
          ...base,
          messages: [ask],
          tools: [WEATHER],
          tool_choice: "required",
        });
        const choice = c.choices[0]!;
        assert.equal(choice.finish_reason, "tool_calls");
        assert.equal(choice.message.content, null);
        const calls = choice.message.tool_calls ?? [];
        assert.equal(calls.length, 1);
        const call = calls[0]!;
        assert.ok(call.type === "function");
        assert.match(call.id, /^call_/);
        assertWeatherCall(call.function);
      });

      await t.step(
        "a named tool_choice forces that tool among several; parallel_tool_calls false",
        async () => {
          for (const name of ["get_time", "get_weather"]) {
            const c: OpenAI.ChatCompletion = await client.chat.completions.create({
              ...base,
              messages: [ask],
              tools: [WEATHER, TIME],
              tool_choice: { type: "function", function: { name } },
              parallel_tool_calls: false,
            });
            const call = c.choices[0]!.message.tool_calls?.[0];
            assert.ok(call?.type === "function");
            assert.equal(call.function.name, name);
            assert.equal(c.choices[0]!.finish_reason, "tool_calls");
            if (name === "get_weather") assertWeatherCall(call.function);
            else assert.deepEqual(JSON.parse(call.function.arguments), {});
          }
        },
      );

      await t.step(
        "streamed: delta.tool_calls with index, id and name, arguments joined by index",
        async () => {
          const stream = await client.chat.completions.create({
            ...base,
            messages: [ask],
            tools: [WEATHER],
            tool_choice: "required",
            stream: true,
          });
          const calls: { id: string; name: string; arguments: string }[] = [];
          let finish: string | null = null;
          let pieces = 0;
          for await (const chunk of stream) {
            const choice = chunk.choices[0];
            if (choice === undefined) continue;
            if ((choice.delta.tool_calls?.length ?? 0) > 0) pieces++;
            for (const d of choice.delta.tool_calls ?? []) {
              const call = calls[d.index] ??= { id: "", name: "", arguments: "" };
              call.id += d.id ?? "";
              call.name += d.function?.name ?? "";
              call.arguments += d.function?.arguments ?? "";
            }
            finish = choice.finish_reason ?? finish;
          }
          assert.equal(finish, "tool_calls");
          assert.ok(pieces > 1, `the arguments came in ${pieces} chunk(s)`);
          assert.equal(calls.length, 1);
          assert.match(calls[0]!.id, /^call_/);
          assertWeatherCall(calls[0]!);
        },
      );

      await t.step(
        "auto: text or calls, well formed; a tool-result turn is accepted and answered",
        async () => {
          const auto = await client.chat.completions.create({
            ...base,
            messages: [ask],
            tools: [WEATHER, TIME],
          });
          const choice = auto.choices[0]!;
          assert.ok(["stop", "length", "tool_calls"].includes(choice.finish_reason), choice.finish_reason);
          for (const call of choice.message.tool_calls ?? []) assert.ok(call.type === "function");

          const forced = await client.chat.completions.create({
            ...base,
            messages: [ask],
            tools: [WEATHER],
            tool_choice: "required",
          });
          const call = forced.choices[0]!.message.tool_calls![0]!;
          const turn = await client.chat.completions.create({
            ...base,
            max_tokens: 8,
            messages: [
              ask,
              forced.choices[0]!.message,
              { role: "tool", tool_call_id: call.id, content: '{"celsius":21}' },
            ],
            tools: [WEATHER],
            tool_choice: "none",
          });
          assert.equal(typeof turn.choices[0]!.message.content, "string");
          assert.equal(turn.choices[0]!.finish_reason, "length");
          assert.equal(turn.choices[0]!.message.tool_calls, undefined);
        },
      );

      await t.step(
        "refused with 400 naming the field: an unknown tool_choice, a result of no call",
        async () => {
          const named = await client.chat.completions.create({
            ...base,
            messages: [ask],
            tools: [WEATHER],
            tool_choice: { type: "function", function: { name: "nope" } },
          }).then(() => null, (e) => e);
          assert.ok(named instanceof OpenAI.APIError);
          assert.equal(named.status, 400);
          assert.equal(named.param, "tool_choice");
          const orphan = await client.chat.completions.create({
            ...base,
            messages: [ask, { role: "tool", tool_call_id: "call_none", content: "21" }],
          }).then(() => null, (e) => e);
          assert.ok(orphan instanceof OpenAI.APIError);
          assert.equal(orphan.status, 400);
          assert.match(orphan.message, /tool/);
        },
      );

      await t.step(
        "the daemon's socket: a chat session with tools gets tool_call pieces and the calls",
        async () => {
          const socket = await DaemonClient.connect(daemon.socket);
          try {
            const session = await socket.session(MODEL);
            assert.equal(session.capabilities.tools, true);
            const deltas: ToolCallDelta[] = [];
            const r = await session.chat([{ role: "user", content: "What is the weather?" }], {
              maxTokens: 100,
              temperature: 0,
              tools: [{ name: WEATHER.function.name, parameters: WEATHER.function.parameters! }],
              toolChoice: { name: "get_weather" },
              onToolCallDelta: (d) => deltas.push(d),
            }).result;
            assert.equal(r.stopReason, "tool_calls");
            const call = r.toolCalls![0]!;
            assertWeatherCall(call);
            assert.equal(deltas[0]!.id, call.id);
            assert.equal(deltas.map((d) => d.arguments).join(""), call.arguments);
          } finally {
            socket.close();
          }
        },
      );

      await t.step("Vercel AI SDK: generateText runs the forced tool, then answers its result", async () => {
        const lode = createOpenAICompatible({ name: "lode", baseURL });
        let ran = 0;
        const result = await generateText({
          model: lode.chatModel(MODEL),
          prompt: "What is the weather?",
          temperature: 0,
          maxOutputTokens: 100,
          tools: {
            get_weather: aiTool({
              description: "The weather where the user is",
              inputSchema: z.object({ precise: z.boolean() }),
              execute: ({ precise }) => {
                ran++;
                return Promise.resolve({ celsius: 21, precise });
              },
            }),
          },
          toolChoice: "required",
          prepareStep: ({ stepNumber }) => stepNumber === 0 ? {} : { toolChoice: "none" },
          stopWhen: isStepCount(2),
        });
        assert.equal(ran, 1);
        assert.equal(result.steps.length, 2);
        const first = result.steps[0]!;
        assert.equal(first.finishReason, "tool-calls");
        assert.equal(first.toolCalls[0]!.toolName, "get_weather");
        assert.equal(typeof (first.toolCalls[0]!.input as { precise: unknown }).precise, "boolean");
        assert.equal(result.steps[1]!.finishReason, "length");
      });

      await t.step("LangChain: bindTools forces a tool; the ToolMessage turn is answered", async () => {
        const weather = lcTool(({ precise }) => JSON.stringify({ celsius: 21, precise }), {
          name: "get_weather",
          description: "The weather where the user is",
          schema: z.object({ precise: z.boolean() }),
        });
        const chat = new ChatOpenAI({
          model: MODEL,
          apiKey: "unused",
          temperature: 0,
          maxTokens: 100,
          maxRetries: 0,
          configuration: { baseURL },
        });
        const ai = await chat.bindTools([weather], { tool_choice: "get_weather" }).invoke([
          new HumanMessage("What is the weather?"),
        ]);
        const call = ai.tool_calls?.[0];
        assert.equal(call?.name, "get_weather");
        assert.equal(typeof call.args.precise, "boolean");
        const answer = await chat.bindTools([weather]).invoke([
          new HumanMessage("What is the weather?"),
          ai,
          new ToolMessage({ tool_call_id: call.id!, content: await weather.invoke(call.args as never) }),
        ]);
        assert.equal(typeof answer.content, "string");
      });
    } finally {
      const end = await daemon.stop();
      assert.equal(end.code, 0, end.stderr);
    }
  }, { prefix: "lode-serve-tools-" });
});
