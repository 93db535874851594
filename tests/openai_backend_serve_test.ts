/**
 * `lode serve --plugin plugins/examples/openai_backend` serving a `.remote.json` model imported into its
 * store: the store serves a single-file model from its blob (`…/data`), so the plugin's probe and load get
 * the file's own name, and the plugin's sandbox may read the store's model files. The model's chats are
 * forwarded to a second, real `lode serve --http`: stories260K for text, a ChatML chat model for tools (the
 * plugin declares the protocol's `tools` feature and forwards them as OpenAI's).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { writeChatModel } from "./support/chat_model.ts";
import { runLode } from "./support/lode_cli.ts";
import { startServe, storeWithStories } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { freePort } from "./support/free_port.ts";

const PLUGIN = fileURLToPath(new URL("../plugins/examples/openai_backend", import.meta.url));

/** A port nothing listens on right now. */

/** Resolves once `url` answers 200. */
async function answers(url: string): Promise<void> {
  while (true) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The answer of one chat completion on `base`, as JSON. */
async function chat(
  base: string,
  body: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "Once upon a time" }], ...body }),
  });
  return { status: response.status, body: await response.json() };
}

type Message = { content: string | null; tool_calls?: { function: { name: string } }[] };
const message = (body: Record<string, unknown>) => (body.choices as { message: Message }[])[0]!.message;

/**
 * A `lode serve --http` upstream serving `model` (stored in `dir/up/store`), a `remote` model in a second
 * store naming it, and `lode serve --http --plugin openai_backend` on that store; `run` gets both base URLs.
 */
async function fronted(
  dir: string,
  upstreamStore: string,
  model: string,
  contextSize: number,
  run: (front: string, upstream: string) => Promise<void>,
): Promise<void> {
  const upPort = freePort();
  const upstream = await startServe(`${dir}/up`, upstreamStore, [
    "--model",
    model,
    "--ctx-size",
    String(contextSize),
    "--http",
    `127.0.0.1:${upPort}`,
  ]);
  await Deno.mkdir(`${dir}/front`);
  const store = `${dir}/front/store`;
  try {
    await answers(`http://127.0.0.1:${upPort}/v1/models`);
    const file = `${dir}/m.remote.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        base_url: `http://127.0.0.1:${upPort}/v1`,
        model,
        context_size: contextSize,
        has_chat_template: true,
      }),
    );
    const imported = await runLode(["import", file, "--name", "remote", "--format", "openai-remote"], {
      store,
    });
    assert.equal(imported.code, 0, imported.stderr);
    const frontPort = freePort();
    const front = await startServe(`${dir}/front`, store, [
      "--plugin",
      PLUGIN,
      "--http",
      `127.0.0.1:${frontPort}`,
    ], { env: { XDG_CONFIG_HOME: `${dir}/config` } });
    try {
      await answers(`http://127.0.0.1:${frontPort}/v1/models`);
      await run(`http://127.0.0.1:${frontPort}`, `http://127.0.0.1:${upPort}`);
    } finally {
      const stopped = await front.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
    }
  } finally {
    await upstream.stop();
  }
}

Deno.test("lode serve --plugin openai_backend serves a stored .remote.json model by forwarding to another lode serve", async () => {
  await withTempDir(async (dir) => {
    const upstreamStore = await storeWithStories(`${dir}/up`);
    await fronted(dir, upstreamStore, "stories260K", 512, async (front, upstream) => {
      const forwarded = await chat(front, { model: "remote", max_tokens: 8, temperature: 0 });
      assert.equal(forwarded.status, 200, JSON.stringify(forwarded.body));
      const direct = await chat(upstream, { model: "stories260K", max_tokens: 8, temperature: 0 });
      assert.equal(direct.status, 200, JSON.stringify(direct.body));
      assert.ok(message(forwarded.body).content!.length > 0, JSON.stringify(forwarded.body));
      assert.equal(message(forwarded.body).content, message(direct.body).content);
    });
  });
});

Deno.test("lode serve --plugin openai_backend forwards tools: a forced call comes back as OpenAI tool_calls", async () => {
  await withTempDir(async (dir) => {
    const upstreamStore = `${dir}/up/store`;
    const chatModel = await writeChatModel(`${dir}/chat.gguf`);
    const imported = await runLode(["import", chatModel, "--name", "chat"], { store: upstreamStore });
    assert.equal(imported.code, 0, imported.stderr);
    await fronted(dir, upstreamStore, "chat", 2048, async (front) => {
      const tool = {
        type: "function",
        function: {
          name: "get_weather",
          description: "the weather in a city",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      };
      const called = await chat(front, {
        model: "remote",
        max_tokens: 32,
        temperature: 0,
        tools: [tool],
        tool_choice: { type: "function", function: { name: "get_weather" } },
      });
      assert.equal(called.status, 200, JSON.stringify(called.body));
      const calls = message(called.body).tool_calls ?? [];
      assert.equal(calls[0]?.function.name, "get_weather", JSON.stringify(called.body));
      assert.equal((called.body.choices as { finish_reason: string }[])[0]!.finish_reason, "tool_calls");
    });
  });
});
