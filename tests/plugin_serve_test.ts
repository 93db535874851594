/**
 * `lode serve` with a backend plugin (`--plugin DIR`): a stored model that is not GGUF is served by the
 * plugin's real process, a GGUF one still by a runner; a plugin process that dies in the middle of a
 * request fails that request with a typed `PLUGIN_*` error, the daemon stays up, and the next request
 * starts the plugin again and is answered.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { FrameClient, terminal, tokenText } from "./support/frame_client.ts";
import { runLode } from "./support/lode_cli.ts";
import { startServe, storeWithStories, STORIES_FILE } from "./support/serve_process.ts";
import { sha256 } from "./support/engine_world.ts";
import { startOrigin } from "./support/origin.ts";
import { makeTestCa } from "./support/test_ca.ts";
import { withTempDir } from "./support/temp_dir.ts";

const CRASH = fileURLToPath(new URL("./fixtures/plugins/crash_backend", import.meta.url));

Deno.test("lode serve --plugin: a backend plugin serves its model, and the daemon survives its crash", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    await Deno.writeTextFile(`${dir}/parrot.words`, "a parrot\n");
    const imported = await runLode(
      ["import", `${dir}/parrot.words`, "--name", "parrot", "--format", "words"],
      {
        store,
      },
    );
    assert.equal(imported.code, 0, imported.stderr);
    const env = { XDG_CONFIG_HOME: `${dir}/config` };
    const daemon = await startServe(dir, store, ["--plugin", CRASH], { env });
    let stderr = "";
    try {
      const c = await FrameClient.connect(daemon.socket);
      const generate = async (id: string, model: string, prompt: string) => {
        await c.write({ id, op: "generate", model, prompt, max_tokens: 8, temperature: 0 });
        return await c.frames(id);
      };
      const first = await generate("g1", "parrot", "once upon a time");
      assert.equal(terminal(first).type, "done", JSON.stringify(first));
      assert.equal(tokenText(first), "once upon a time ");

      // The plugin's process exits in the middle of this generation: only this request fails, typed.
      const crashed = await generate("g2", "parrot", "crash");
      const error = terminal(crashed);
      assert.equal(error.type, "error", JSON.stringify(crashed));
      assert.match(String(error.code), /^PLUGIN_/, JSON.stringify(error));

      // The daemon serves on: a GGUF model in its runner, and the plugin's model (its process started again).
      const gguf = await generate("g3", "stories260K", "Once upon a time");
      assert.equal(terminal(gguf).type, "done", JSON.stringify(gguf));
      const again = await generate("g4", "parrot", "still here");
      assert.equal(terminal(again).type, "done", JSON.stringify(again));
      assert.equal(tokenText(again), "still here ");
      c.close();
    } finally {
      const stopped = await daemon.stop();
      stderr = stopped.stderr;
      assert.equal(stopped.code, 0, stopped.stderr);
    }
    assert.match(stderr, /parrot: backend plugin crash_backend restarting \(crashed\)/);
  });
});

const MIRROR = fileURLToPath(new URL("../plugins/examples/mirror_registry", import.meta.url));
const CRASH_REGISTRY = fileURLToPath(new URL("./fixtures/plugins/crash_registry", import.meta.url));

/** A sink plugin in `dir` that writes the envelopes it received to `dir/out/events.ndjson` when closed. */
async function eventTap(dir: string): Promise<string> {
  await Deno.mkdir(`${dir}/out`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/lode-plugin.json`,
    JSON.stringify({
      name: "event_tap",
      version: "1.0.0",
      api_version: 1,
      hooks: ["sink"],
      entry: "main.ts",
      permissions: { write: [{ path: "out", reason: "the events it receives, one JSON line each" }] },
    }),
  );
  const sdk = new URL("../plugins/sdk/mod.ts", import.meta.url).href;
  const out = JSON.stringify(`${dir}/out/events.ndjson`);
  await Deno.writeTextFile(
    `${dir}/main.ts`,
    `import { definePlugin } from ${JSON.stringify(sdk)};
const lines: string[] = [];
definePlugin({
  name: "event_tap",
  sink: {
    event(envelope) { lines.push(JSON.stringify(envelope)); },
    async close() { await Deno.writeTextFile(${out}, lines.join("\\n") + "\\n"); },
  },
});
`,
  );
  return `${dir}/out/events.ndjson`;
}

Deno.test("lode serve --plugin: a request naming mirror:NAME pulls through the registry plugin, a sink plugin gets the daemon's events, a crashing registry fails only its requests", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const stories = await Deno.readFile(STORIES_FILE);
    const index = JSON.stringify({
      models: { stories: { file: "stories.gguf", sha256: sha256(stories), size_bytes: stories.length } },
    });
    const origin = await startOrigin({
      tls: ca,
      routes: {
        "/index.json": { body: new TextEncoder().encode(index) },
        "/stories.gguf": { body: stories },
      },
    });
    const events = await eventTap(`${dir}/event_tap`);
    const store = `${dir}/store`;
    await Deno.mkdir(`${dir}/d`);
    try {
      const daemon = await startServe(`${dir}/d`, store, [
        "--ca-cert",
        ca.caCertPath,
        ...["--plugin", MIRROR, "--plugin", CRASH_REGISTRY, "--plugin", `${dir}/event_tap`],
      ], { env: { MIRROR_REGISTRY_URLS: `${origin.url}/`, DENO_CERT: ca.caCertPath } });
      try {
        const c = await FrameClient.connect(daemon.socket);
        const generate = async (id: string, model: string) => {
          await c.write({
            id,
            op: "generate",
            model,
            prompt: "Once upon a time",
            max_tokens: 8,
            temperature: 0,
          });
          return terminal(await c.frames(id));
        };
        const crashed = await generate("c1", "crash:tiny");
        assert.equal(crashed.code, "PLUGIN_FAILED", JSON.stringify(crashed));
        assert.equal((crashed.details as Record<string, unknown>).plugin, "crash_registry");
        const pulled = await generate("m1", "mirror:stories");
        assert.equal(pulled.type, "done", JSON.stringify(pulled));
        // The crashed plugin is started again (after its backoff) for the next request that needs it.
        const again = await generate("c2", "crash:tiny");
        assert.equal(again.code, "PLUGIN_FAILED", JSON.stringify(again));
        assert.equal((await generate("m2", "mirror:stories")).type, "done");
        c.close();
      } finally {
        const stopped = await daemon.stop();
        assert.equal(stopped.code, 0, stopped.stderr);
      }
      const ls = await runLode(["ls", "--json"], { store });
      assert.match(ls.stdout, /"stories"/);
      const received = (await Deno.readTextFile(events)).trim().split("\n").map((l) => JSON.parse(l));
      const downloads = received.filter((e) => e.source === "download").map((e) => e.event.event);
      assert.ok(downloads.includes("completed"), downloads.join(", "));
    } finally {
      await origin.close();
    }
  });
});
