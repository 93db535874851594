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
import { startServe, storeWithStories } from "./support/serve_process.ts";
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
    assert.match(stderr, /parrot/);
  });
});
