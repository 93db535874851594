/**
 * The `openai_backend` example plugin (plugins/examples/openai_backend) as a lode {@link Backend}: its own
 * sandboxed process, spoken to over the plugin protocol, forwarding to a real `lode serve --http` on
 * 127.0.0.1 that runs the real stories260K model. The backend conformance suite runs against it whole,
 * its features flags (no token ids, normalized embeddings only, the server's own context) deciding the
 * checks that need them.
 */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { backendConformance } from "../src/inference/backend_conformance.ts";
import { pluginBackend } from "../src/inference/plugin_backend.ts";
import type { Backend } from "../src/inference/backend.ts";
import { isLodeError } from "../src/errors.ts";
import { type PluginManifest, readManifest } from "../src/plugin/manifest.ts";
import { SupervisedPlugin } from "../src/plugin/plugin_supervisor.ts";
import { remotePlugin } from "../src/plugin/remote_plugin.ts";
import { type ServeProcess, startServe, storeWithStories } from "./support/serve_process.ts";
import { freePort } from "./support/free_port.ts";

const PLUGIN = fromFileUrl(new URL("../plugins/examples/openai_backend", import.meta.url));

/** A port nothing listens on right now. */

/** Resolves once `url` answers 200. */
async function answers(url: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (true) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not yet listening
    }
    if (Date.now() > deadline) throw new Error(`${url} does not answer`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The example's manifest, with its `read` permission pointing at `dir` (where the test's model file is). */
async function manifestReading(dir: string): Promise<PluginManifest> {
  const manifest = await readManifest(PLUGIN);
  return {
    ...manifest,
    permissions: { ...manifest.permissions, read: [{ path: dir, reason: "the test's .remote.json" }] },
  };
}

/**
 * A lode serve --http on stories260K, a `stories260K.remote.json` naming it in `dir`, and the plugin's
 * backend; its `close` also stops the server and removes `dir`.
 */
async function remoteBackend(
  dir: string,
): Promise<{ backend: Backend; model: string; daemon: ServeProcess }> {
  const store = await storeWithStories(dir);
  const port = freePort();
  // The server's context (512 tokens) is what the .remote.json declares: the OpenAI API does not say it.
  const daemon = await startServe(dir, store, [
    "--model",
    "stories260K",
    "--ctx-size",
    "512",
    "--http",
    `127.0.0.1:${port}`,
  ]);
  await answers(`http://127.0.0.1:${port}/v1/models`);
  const model = `${dir}/stories260K.remote.json`;
  await Deno.writeTextFile(
    model,
    JSON.stringify({ base_url: `http://127.0.0.1:${port}/v1`, model: "stories260K", context_size: 512 }),
  );
  const supervised = new SupervisedPlugin(await manifestReading(dir));
  const inner = pluginBackend(remotePlugin(supervised).backend!, { shutdown: () => supervised.shutdown() });
  const backend: Backend = {
    name: inner.name,
    probe: (path) => inner.probe(path),
    load: (path, options) => inner.load(path, options),
    close: async () => {
      try {
        await inner.close();
      } finally {
        await daemon.stop();
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
  return { backend, model, daemon };
}

const dir = Deno.makeTempDirSync({ prefix: "lode-openai-backend-" });

backendConformance(
  "openai_backend plugin → lode serve --http",
  async () => (await remoteBackend(dir)).backend,
  // Generations go plugin → HTTP → daemon → runner: an abort crosses three processes.
  { model: `${dir}/stories260K.remote.json`, abortWithinMs: 2_000 },
);

Deno.test("openai_backend plugin: streams tokens as they come, and a failure names the plugin and hook", async () => {
  const { backend, model } = await remoteBackend(await Deno.makeTempDir({ prefix: "lode-openai-backend-" }));
  try {
    const session = await backend.load(model);
    const generation = session.generate("Once upon a time", { maxTokens: 30 });
    const seen: string[] = [];
    for await (const chunk of generation) seen.push(chunk);
    assert.ok(seen.length > 1, `one chunk only: ${JSON.stringify(seen)}`);
    assert.equal(seen.join(""), (await generation.result).text);

    await assert.rejects(session.generate("x", { jsonSchema: { type: "date" } }).result, (e: unknown) => {
      assert.ok(isLodeError(e, "SCHEMA_INVALID"), String(e));
      assert.equal(e.details.plugin, "openai_backend");
      assert.equal(e.details.hook, "session.generate");
      return true;
    });
    await assert.rejects(session.tokenize("x"), (e: unknown) => {
      assert.ok(isLodeError(e, "INFERENCE_FAILED") && e.details.hook === "session.tokenize", String(e));
      return true;
    });
  } finally {
    await backend.close();
  }
});
