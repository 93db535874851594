/**
 * The composition root's choice of backend (src/inference/backend_choice.ts) with real backends: a GGUF
 * file runs on llama.cpp whatever plugins are given; a file a backend plugin claims runs on that plugin
 * (its real process); a file none claims is `MODEL_LOAD_FAILED` naming every backend's reason.
 */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { isLodeError } from "../src/errors.ts";
import { chooseBackend } from "../src/inference/backend_choice.ts";
import { createLlamaCppBackend } from "../src/inference/llama_cpp_backend.ts";
import { openPluginBackend } from "../src/inference/plugin_backend.ts";
import { STORIES_FILE } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";

const ECHO = fromFileUrl(new URL("./fixtures/plugins/echo_backend", import.meta.url));
const SLOW = fromFileUrl(new URL("./fixtures/plugins/slow_backend", import.meta.url));
const choices = {
  builtIn: () => Promise.resolve(createLlamaCppBackend()),
  plugins: [() => openPluginBackend(SLOW), () => openPluginBackend(ECHO)],
};

Deno.test("a GGUF file runs on llama.cpp; a file a plugin claims on the first plugin that claims it", async () => {
  await withTempDir(async (dir) => {
    const gguf = await chooseBackend(STORIES_FILE, choices);
    assert.equal(gguf.name, "llamacpp");
    await gguf.close();

    const model = `${dir}/m.echo`;
    await Deno.writeTextFile(model, "");
    const echo = await chooseBackend(model, choices);
    try {
      assert.equal(echo.name, "echo_backend");
      const session = await echo.load(model);
      assert.equal((await session.generate("once upon").result).text, "once upon ");
    } finally {
      await echo.close();
    }
  });
});

Deno.test("a file no backend claims: MODEL_LOAD_FAILED with every reason; a missing one goes to llama.cpp", async () => {
  await withTempDir(async (dir) => {
    const notes = `${dir}/notes.txt`;
    await Deno.writeTextFile(notes, "not a model\n");
    await assert.rejects(chooseBackend(notes, choices), (e: unknown) => {
      assert.ok(isLodeError(e, "MODEL_LOAD_FAILED"), String(e));
      assert.deepEqual(Object.keys(e.details.reasons as object), ["gguf", "slow_backend", "echo_backend"]);
      return true;
    });
    const missing = await chooseBackend(`${dir}/gone.echo`, choices);
    assert.equal(missing.name, "llamacpp");
    await assert.rejects(missing.load(`${dir}/gone.echo`), (e: unknown) => isLodeError(e, "FILE_NOT_FOUND"));
    await missing.close();
  });
});
