/**
 * The steps of the conformance suite (backend_conformance.ts) about tools
 * ({@link GenerateOptions.tools}): a session whose `capabilities.tools` is
 * false refuses them with `USAGE` (and answers with text when `toolChoice`
 * is `"none"`); one whose flag is true makes a call when `toolChoice` is
 * `"required"` or names a tool — `stopReason: "tool_calls"`, `toolCalls`
 * with an id, the tool's name and arguments that parse as JSON — and answers
 * a conversation that holds the call and its result.
 *
 * @example
 * ```ts
 * import { toolSteps } from "./backend_conformance_tools.ts";
 * import type { Session } from "./backend.ts";
 * declare const session: Session;
 * Deno.test("tools", async (t) => await toolSteps(t, session));
 * ```
 * @module
 */
import { deepStrictEqual as assertEquals, ok as assert, rejects as assertRejects } from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import type {
  Backend,
  ChatMessage,
  GenerateOptions,
  LoadOptions,
  Session,
  ToolDefinition,
} from "./backend.ts";

/** Arguments a grammar bounds (a boolean and an enum), so a forced call completes on any model. */
const WEATHER: ToolDefinition = {
  name: "get_weather",
  description: "The weather where the user is",
  parameters: {
    type: "object",
    properties: { precise: { type: "boolean" }, unit: { enum: ["celsius", "fahrenheit"] } },
    required: ["precise", "unit"],
  },
};
const TIME: ToolDefinition = { name: "get_time", description: "The time now" };
const ASK: ChatMessage[] = [{ role: "user", content: "What is the weather?" }];

/**
 * Registers the tool steps on `t` for `session` (its `capabilities.tools` decides which), or for a session
 * of `model` loaded by `backend` (context 1024) and closed afterwards. `maxTokens` bounds a forced call:
 * enough for the call's text on the model at hand.
 */
export async function toolSteps(
  t: Deno.TestContext,
  session: Session | { backend: Backend; model: string; loadOptions: LoadOptions },
  maxTokens = 120,
): Promise<void> {
  if (!("capabilities" in session)) {
    const loaded = await session.backend.load(session.model, { ...session.loadOptions, contextSize: 1024 });
    try {
      return await toolSteps(t, loaded, maxTokens);
    } finally {
      await loaded.close();
    }
  }
  const s = session;
  if (!s.capabilities.tools) {
    await t.step(
      "tools: capabilities.tools is false, so tools are refused (USAGE); toolChoice none is text",
      async () => {
        await assertRejects(
          s.chat(ASK, { tools: [TIME], maxTokens: 4 }).result,
          (e) => isLodeError(e, "USAGE"),
        );
        const text = await s.chat(ASK, { tools: [TIME], toolChoice: "none", maxTokens: 4, temperature: 0 })
          .result;
        assertEquals(text.toolCalls, undefined);
        assert(text.stopReason !== "tool_calls", text.stopReason);
      },
    );
    return;
  }
  await t.step("tools: a required or named toolChoice makes a call; its result is answered", async () => {
    const base: GenerateOptions = { maxTokens, temperature: 0 };
    const required = await s.chat(ASK, { ...base, tools: [WEATHER, TIME], toolChoice: "required" }).result;
    assertEquals(required.stopReason, "tool_calls");
    assert((required.toolCalls?.length ?? 0) >= 1, JSON.stringify(required));
    for (const call of required.toolCalls!) {
      assert(call.id.length > 0 && ["get_weather", "get_time"].includes(call.name), JSON.stringify(call));
      assertEquals(typeof JSON.parse(call.arguments), "object");
    }
    const named = await s.chat(ASK, { ...base, tools: [WEATHER, TIME], toolChoice: { name: "get_weather" } })
      .result;
    assertEquals(named.stopReason, "tool_calls");
    const call = named.toolCalls![0]!;
    assertEquals(call.name, "get_weather");
    const args = JSON.parse(call.arguments);
    assert(
      typeof args.precise === "boolean" && ["celsius", "fahrenheit"].includes(args.unit),
      call.arguments,
    );
    const turn: ChatMessage[] = [
      ...ASK,
      { role: "assistant", content: "", toolCalls: [call] },
      { role: "tool", toolCallId: call.id, content: '{"celsius":21}' },
    ];
    const answer = await s.chat(turn, { maxTokens: 4, temperature: 0, tools: [WEATHER], toolChoice: "none" })
      .result;
    assert(["eos", "stop", "max_tokens"].includes(answer.stopReason), answer.stopReason);
    await assertRejects(
      s.chat([...ASK, { role: "tool", toolCallId: "call_none", content: "x" }], { maxTokens: 4 }).result,
      (e) => isLodeError(e, "USAGE"),
    );
  });
}
