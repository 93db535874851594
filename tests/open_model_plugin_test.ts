/**
 * The composition root of `lode run`, `lode chat` and `lode embed` (src/cli/model_session.ts `openModel`)
 * with backend plugins given: a `file:` model that is not GGUF is loaded by the first plugin that claims it
 * (its real process), its load phases published on the command's stream; the GGUF model still runs on
 * llama.cpp with the same plugins given.
 */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import type { Envelope } from "../src/events/envelope.ts";
import { createContext } from "../src/cli/context.ts";
import { openModel } from "../src/cli/model_session.ts";
import { Output, type OutputStream } from "../src/cli/output.ts";
import { STORIES_FILE } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { runLode } from "./support/lode_cli.ts";

const ECHO = fromFileUrl(new URL("./fixtures/plugins/echo_backend", import.meta.url));
const SLOW = fromFileUrl(new URL("./fixtures/plugins/slow_backend", import.meta.url));

function sink(): OutputStream {
  return { writeSync: (p) => p.length, write: (p) => Promise.resolve(p.length), isTerminal: () => false };
}

Deno.test("openModel: a file a backend plugin claims loads there; a GGUF file on llama.cpp", async () => {
  await withTempDir(async (dir) => {
    const output = new Output({
      json: true,
      quiet: true,
      color: false,
      streams: { stdout: sink(), stderr: sink() },
    });
    const ctx = await createContext({ json: true, store: `${dir}/store` }, { HOME: dir }, output);
    const seen: Envelope[] = [];
    ctx.events.listen((e) => seen.push(e));
    const plugins = [SLOW, ECHO];
    try {
      await Deno.writeTextFile(`${dir}/m.echo`, "");
      const echo = await openModel(ctx, `file:${dir}/m.echo`, { load: {}, plugins, daemon: { use: false } });
      try {
        assert.equal(echo.session.capabilities.backend, "echo");
        assert.equal((await echo.session.generate("a b").result).text, "a b ");
      } finally {
        await echo.close();
      }
      const statuses = seen.filter((e) => e.source === "inference").map((e) =>
        (e.event as { status?: string }).status
      );
      assert.deepEqual(statuses, ["capabilities"]);

      const gguf = await openModel(ctx, `file:${STORIES_FILE}`, {
        load: { threads: 1, gpu: "off", contextSize: 256 },
        plugins,
        daemon: { use: false },
      });
      try {
        assert.equal(gguf.session.capabilities.backend, "llamacpp");
      } finally {
        await gguf.close();
      }
    } finally {
      await ctx.dispose();
    }
  });
});

Deno.test("lode run --plugin DIR: a file the backend plugin claims runs there, from the command line", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/m.echo`, "");
    const r = await runLode([
      "run",
      `file:${dir}/m.echo`,
      "once upon a time",
      "--plugin",
      ECHO,
      "--no-daemon",
    ], {
      store: `${dir}/store`,
      env: { HOME: dir, XDG_CONFIG_HOME: `${dir}/config` },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /once upon a time/);
  });
});

Deno.test("lode run NAME --plugin DIR: a stored model's file is probed and loaded by its own name, not its blob's", async () => {
  await withTempDir(async (dir) => {
    const store = `${dir}/store`;
    const env = { HOME: dir, XDG_CONFIG_HOME: `${dir}/config` };
    await Deno.writeTextFile(`${dir}/m.echo`, "");
    const imported = await runLode(["import", `${dir}/m.echo`, "--name", "parrot", "--format", "echo"], {
      store,
      env,
    });
    assert.equal(imported.code, 0, imported.stderr);
    const r = await runLode(["run", "parrot", "once upon a time", "--plugin", ECHO, "--no-daemon"], {
      store,
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /once upon a time/);
  });
});
