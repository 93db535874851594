/**
 * `lode serve --plugin plugins/examples/openai_backend` serving a `.remote.json` model imported into its
 * store: the store serves a single-file model from its blob (`…/data`), so the plugin's probe and load get
 * the file's own name, and the plugin's sandbox may read the store's model files. The model's chats are
 * forwarded to a second, real `lode serve --http` running stories260K.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runLode } from "./support/lode_cli.ts";
import { startServe, storeWithStories } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";

const PLUGIN = fileURLToPath(new URL("../plugins/examples/openai_backend", import.meta.url));

/** A port nothing listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

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
async function chat(base: string, model: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model,
      messages: [{ role: "user", content: "Once upon a time" }],
      max_tokens: 8,
      temperature: 0,
    }),
  });
  return { status: response.status, body: await response.json() };
}

const content = (body: Record<string, unknown>) =>
  (body.choices as { message: { content: string } }[])[0]!.message.content;

Deno.test("lode serve --plugin openai_backend serves a stored .remote.json model by forwarding to another lode serve", async () => {
  await withTempDir(async (dir) => {
    const upstreamStore = await storeWithStories(`${dir}/up`);
    const upPort = freePort();
    const upstream = await startServe(`${dir}/up`, upstreamStore, [
      "--model",
      "stories260K",
      "--ctx-size",
      "512",
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
          model: "stories260K",
          context_size: 512,
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
        const forwarded = await chat(`http://127.0.0.1:${frontPort}`, "remote");
        assert.equal(forwarded.status, 200, JSON.stringify(forwarded.body));
        const direct = await chat(`http://127.0.0.1:${upPort}`, "stories260K");
        assert.equal(direct.status, 200, JSON.stringify(direct.body));
        assert.ok(content(forwarded.body).length > 0, JSON.stringify(forwarded.body));
        assert.equal(content(forwarded.body), content(direct.body));
      } finally {
        const stopped = await front.stop();
        assert.equal(stopped.code, 0, stopped.stderr);
      }
    } finally {
      await upstream.stop();
    }
  });
});
