/**
 * The optional protocol features a stdio backend plugin declares in its hello (`tools`, `render_chat`,
 * `large_frames`), with real plugin processes: a plugin that declares them gets tool definitions and gives
 * tool calls, renders chats and sends frames over 16 MiB; one that does not keeps the plain protocol, its
 * chats with tools refused with `USAGE` naming it.
 */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { isLodeError } from "../src/errors.ts";
import { openPluginBackend } from "../src/inference/plugin_backend.ts";
import type { ToolCallDelta } from "../src/inference/backend.ts";
import { MAX_FRAME_BYTES } from "../src/plugin/plugin_protocol.ts";
import { withTempDir } from "./support/temp_dir.ts";

const TOOL = fromFileUrl(new URL("./fixtures/plugins/tool_backend", import.meta.url));
const ECHO = fromFileUrl(new URL("./fixtures/plugins/echo_backend", import.meta.url));
const WEATHER = { name: "get_weather", description: "the weather in a city", parameters: { type: "object" } };

Deno.test("a plugin that declares tools, render_chat and large_frames gets them", async () => {
  await withTempDir(async (dir) => {
    const model = `${dir}/m.tool`;
    await Deno.writeTextFile(model, "");
    const backend = await openPluginBackend(TOOL);
    try {
      const session = await backend.load(model);
      assert.equal(session.capabilities.tools, true);
      assert.equal(session.features?.renderChat, true);

      const deltas: ToolCallDelta[] = [];
      const user = { role: "user" as const, content: "Weather in Paris?" };
      const called = await session.chat([user], { tools: [WEATHER], onToolCallDelta: (d) => deltas.push(d) })
        .result;
      assert.equal(called.stopReason, "tool_calls");
      const call = { id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' };
      assert.deepEqual(called.toolCalls, [call]);
      assert.deepEqual(deltas, [{ index: 0, ...call }]);

      const answered = await session.chat([
        user,
        { role: "assistant", content: "", toolCalls: [call] },
        { role: "tool", toolCallId: "call_1", content: "sunny" },
      ]).result;
      assert.equal(answered.text, "tool:call_1:sunny");

      assert.equal(await session.renderChat([user]), "user: Weather in Paris?\n");

      const size = MAX_FRAME_BYTES / 2 + 1024; // "1," per number: a frame over 16 MiB
      const [vector] = await session.embed([`big:${size}`]);
      assert.equal(vector!.length, size);
    } finally {
      await backend.close();
    }
  });
});

Deno.test("a plugin that declares none keeps the plain protocol: tools refused naming it", async () => {
  await withTempDir(async (dir) => {
    const model = `${dir}/m.echo`;
    await Deno.writeTextFile(model, "");
    const backend = await openPluginBackend(ECHO);
    try {
      const session = await backend.load(model);
      assert.equal(session.capabilities.tools, false);
      await assert.rejects(
        session.chat([{ role: "user", content: "hi" }], { tools: [WEATHER] }).result,
        (e: unknown) => {
          assert.ok(isLodeError(e, "USAGE"), String(e));
          assert.equal(e.details.plugin, "echo_backend");
          assert.match(e.message, /echo_backend.*`tools` feature/);
          return true;
        },
      );
      await assert.rejects(session.renderChat([{ role: "user", content: "hi" }]), (e: unknown) => {
        assert.ok(isLodeError(e, "INFERENCE_FAILED"), String(e));
        assert.equal(e.details.plugin, "echo_backend");
        return true;
      });
      assert.equal(
        (await session.chat([{ role: "user", content: "still here" }]).result).text,
        "still here ",
      );
    } finally {
      await backend.close();
    }
  });
});
