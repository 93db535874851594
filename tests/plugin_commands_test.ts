/**
 * A registry plugin's reference in the commands besides `lode pull` (their plugin started as soon as their
 * arguments are parsed): `lode lock add mirror:NAME` pins the plan the example plugin gives, and
 * `lode run mirror:NAME` pulls it through the plugin and runs it, with the real CLI, the example
 * `plugins/examples/mirror_registry` in its sandboxed process and an HTTPS origin on loopback.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { sha256 } from "./support/engine_world.ts";
import { runLode } from "./support/lode_cli.ts";
import { startOrigin } from "./support/origin.ts";
import { STORIES_FILE } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { makeTestCa } from "./support/test_ca.ts";

const MIRROR = fileURLToPath(new URL("../plugins/examples/mirror_registry", import.meta.url));

Deno.test("lode lock add and lode run of mirror:NAME resolve through the registry plugin", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const stories = await Deno.readFile(STORIES_FILE);
    const sha = sha256(stories);
    const index = JSON.stringify({
      models: { stories: { file: "stories.gguf", sha256: sha, size_bytes: stories.length } },
    });
    const origin = await startOrigin({
      tls: ca,
      routes: {
        "/index.json": { body: new TextEncoder().encode(index) },
        "/stories.gguf": { body: stories },
      },
    });
    const options = {
      store: `${dir}/store`,
      env: {
        MIRROR_REGISTRY_URLS: `${origin.url}/`,
        DENO_CERT: ca.caCertPath,
        XDG_CONFIG_HOME: `${dir}/config`,
        HOME: dir,
      },
    };
    const common = ["--ca-cert", ca.caCertPath, "--plugin", MIRROR];
    try {
      const lock = await runLode([
        "lock",
        "add",
        "mirror:stories",
        "--lockfile",
        `${dir}/lode.lock`,
        ...common,
      ], options);
      assert.equal(lock.code, 0, lock.stderr);
      const locked = JSON.parse(await Deno.readTextFile(`${dir}/lode.lock`));
      assert.match(JSON.stringify(locked), new RegExp(sha));
      assert.match(JSON.stringify(locked), /mirror:stories/);

      const run = await runLode(
        [
          "run",
          "mirror:stories",
          "Once upon a time",
          "--max-tokens",
          "8",
          "--no-daemon",
          "--threads",
          "1",
          ...common,
        ],
        options,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.ok(run.stdout.length > 0, "generated text");
    } finally {
      await origin.close();
    }
  });
});
