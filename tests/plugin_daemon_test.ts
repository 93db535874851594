/**
 * Registry plugins in the daemon's composition: `lode serve` loads the installed plugins, and a
 * `lode pull mirror:NAME --socket S` becomes a download job the daemon resolves through the example
 * plugin (its own sandboxed process) and pulls from the second mirror when the first is down.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { randomModel, sha256 } from "./support/engine_world.ts";
import { runLode } from "./support/lode_cli.ts";
import { startOrigin } from "./support/origin.ts";
import { startServe } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { makeTestCa } from "./support/test_ca.ts";

const BODY = randomModel(128 * 1024 + 5);
const SHA = sha256(BODY);
const EXAMPLE = fileURLToPath(new URL("../plugins/examples/mirror_registry", import.meta.url));

Deno.test("lode serve resolves mirror:NAME through an installed registry plugin for a daemon pull", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const index = JSON.stringify({
      models: { tiny: { file: "tiny.gguf", sha256: SHA, size_bytes: BODY.length } },
    });
    const origin = await startOrigin({
      tls: ca,
      hostname: "127.0.0.2",
      routes: { "/index.json": { body: new TextEncoder().encode(index) }, "/tiny.gguf": { body: BODY } },
    });
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const down = `https://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`;
    listener.close();
    const store = `${dir}/store`;
    try {
      const add = await runLode(["plugin", "add", EXAMPLE], { store });
      assert.equal(add.code, 0, add.stderr);
      await Deno.mkdir(`${dir}/d`);
      const daemon = await startServe(`${dir}/d`, store, ["--ca-cert", ca.caCertPath], {
        env: { MIRROR_REGISTRY_URLS: `${down},${origin.url}/`, DENO_CERT: ca.caCertPath },
      });
      try {
        const r = await runLode(["pull", "mirror:tiny", "--socket", daemon.socket, "--json"], { store });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.events.some((e) => e.event === "completed" && e.blob === `sha256:${SHA}`), r.stdout);
        const ls = await runLode(["ls", "--json"], { store });
        assert.match(ls.stdout, /"tiny"/);
      } finally {
        const stopped = await daemon.stop();
        assert.equal(stopped.code, 0, stopped.stderr);
      }
    } finally {
      await origin.close();
    }
  }, { prefix: "lode-plugd-" });
});
