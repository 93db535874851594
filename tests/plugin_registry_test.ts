/**
 * Registry plugins in reference resolution, with the real CLI in child processes, the example
 * `plugins/examples/mirror_registry` in its sandboxed process, and HTTPS origins on loopback:
 * `lode pull mirror:NAME --plugin DIR` (the first mirror down, the second serves), the same after
 * `lode plugin add`, a plugin that crashes in resolve, and a plan whose bytes do not match its SHA-256.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { engineTest, getsOf, randomModel, sha256, withEngine } from "./support/engine_world.ts";
import { listTree } from "./support/lode_cli.ts";

const BODY = randomModel(256 * 1024 + 13);
const SHA = sha256(BODY);
const EXAMPLE = fileURLToPath(new URL("../plugins/examples/mirror_registry", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures/plugins", import.meta.url));

/** A base URL on 127.0.0.1 where nothing listens (connections are refused). */
function refusedBase(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return `https://127.0.0.1:${port}/`;
}

const index = (sha = SHA) => ({
  body: new TextEncoder().encode(
    JSON.stringify({ models: { tiny: { file: "tiny.gguf", sha256: sha, size_bytes: BODY.length } } }),
  ),
});

engineTest(
  "plugin registry: lode pull mirror:NAME --plugin DIR, the first mirror down, the second serves",
  async () => {
    await withEngine({}, async (w) => {
      const env = {
        MIRROR_REGISTRY_URLS: `${refusedBase()},${w.second!.url}/`,
        MIRROR_REGISTRY_TOKEN: "mirror-secret",
        DENO_CERT: w.ca.caCertPath,
      };
      const r = await w.lode(["pull", "mirror:tiny", "--plugin", EXAMPLE, "--json"], env);
      assert.equal(r.code, 0, r.stderr);
      const events = r.events as { event?: string; code?: string }[];
      assert.ok(events.some((e) => e.event === "mirror_failed" && e.code === "NETWORK"), r.stdout);
      assert.equal(events.at(-1)?.event, "completed", r.stdout);
      const gets = getsOf(w.second!, "/tiny.gguf");
      assert.equal(gets.length > 0, true);
      // The plugin's credentials reach the mirror it named (the file's second URL), sent by the core.
      assert.ok(gets.every((g) => g.headers.authorization === "Bearer mirror-secret"), JSON.stringify(gets));
      assert.ok(!r.stdout.includes("mirror-secret"), "no credential in the events");

      const ls = await w.lode(["ls", "--json"]);
      assert.match(ls.stdout, /"tiny"/);
      assert.match(ls.stdout, new RegExp(SHA));

      // Without the plugin, mirror:tiny is a store name; a missing one says which plugin would resolve it.
      const other = await w.lode(["pull", "mirror:other"], env);
      assert.equal(other.code, 3, other.stderr);
      assert.match(other.stderr, /no registry plugin claims the scheme mirror:/);
      const unknown = await w.lode(["pull", "s3://bucket/m.gguf"]);
      assert.equal(unknown.code, 2, unknown.stderr);
      assert.match(unknown.stderr, /unknown scheme "s3"[\s\S]*lode plugin add/);
    }, { second: { "/index.json": index(), "/tiny.gguf": { body: BODY } } });
  },
);

engineTest(
  "plugin registry: mirror:NAME pulls after lode plugin add, and not after lode plugin rm",
  async () => {
    await withEngine({}, async (w) => {
      const env = { MIRROR_REGISTRY_URLS: `${refusedBase()},${w.second!.url}/`, DENO_CERT: w.ca.caCertPath };
      const add = await w.lode(["plugin", "add", EXAMPLE, "--json"]);
      assert.equal(add.code, 0, add.stderr);
      const ls = await w.lode(["plugin", "ls", "--json"]);
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /"name":"mirror_registry"/);
      const pull = await w.lode(["pull", "mirror:tiny"], env);
      assert.equal(pull.code, 0, pull.stderr);
      assert.match(pull.stdout, new RegExp(`tiny  sha256:${SHA}`));
      const rm = await w.lode(["plugin", "rm", "mirror_registry"]);
      assert.equal(rm.code, 0, rm.stderr);
      const again = await w.lode(["pull", "mirror:tiny", "--name", "tiny2"], env);
      assert.notEqual(again.code, 0, again.stderr);
    }, { second: { "/index.json": index(), "/tiny.gguf": { body: BODY } } });
  },
);

engineTest(
  "plugin registry: a plan whose bytes do not match its SHA-256 is DIGEST_MISMATCH, quarantined",
  async () => {
    const wrong = "0".repeat(64);
    await withEngine({}, async (w) => {
      const env = { MIRROR_REGISTRY_URLS: `${w.second!.url}/`, DENO_CERT: w.ca.caCertPath };
      const r = await w.lode(["pull", "mirror:tiny", "--plugin", EXAMPLE, "--json"], env);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stdout + r.stderr, /DIGEST_MISMATCH/);
      const tree = await listTree(w.store);
      assert.ok(tree.some((p) => p.includes("quarantine")), tree.join("\n"));
      assert.ok(!tree.some((p) => p.startsWith("manifests/") && p.includes("tiny")), tree.join("\n"));
    }, { second: { "/index.json": index(wrong), "/tiny.gguf": { body: BODY } } });
  },
);

engineTest(
  "plugin registry: a plugin that crashes in resolve is PLUGIN_FAILED, the store unchanged",
  async () => {
    await withEngine({}, async (w) => {
      const before = await listTree(w.store).catch(() => []);
      const r = await w.lode(["pull", "crash:tiny", "--plugin", `${FIXTURES}/crash_registry`, "--json"]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /"code":"PLUGIN_FAILED"/);
      assert.match(r.stdout, /crash_registry \(registry\.resolve\)/);
      assert.deepEqual(await listTree(w.store).catch(() => []), before);
    });
  },
);
