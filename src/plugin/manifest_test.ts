import assert from "node:assert/strict";
import { isLodeError, type LodeError } from "../errors.ts";
import { parseManifest, readManifest } from "./manifest.ts";

const FILE = "/p/mirror/lode-plugin.json";

const good = {
  name: "mirror",
  version: "1.0.0",
  api_version: 1,
  hooks: ["registry"],
  schemes: ["mirror"],
  entry: "main.ts",
  permissions: {
    net: [{ host: "mirror.internal:8443", reason: "the mirror's index and files" }],
    read: [{ path: "cache", reason: "its index cache" }],
    env: [{ name: "MIRROR_TOKEN", reason: "the mirror's token" }],
  },
};

function invalid(text: string): LodeError {
  try {
    parseManifest(text, FILE);
  } catch (e) {
    assert.ok(isLodeError(e, "PLUGIN_MANIFEST_INVALID"), String(e));
    return e;
  }
  assert.fail("expected PLUGIN_MANIFEST_INVALID");
}

const edited = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch }, null, 2);

Deno.test("a manifest: its fields, folder, entry and runtime", () => {
  const m = parseManifest(JSON.stringify(good), FILE);
  assert.equal(m.name, "mirror");
  assert.equal(m.dir, "/p/mirror");
  assert.equal(m.entryPath, "/p/mirror/main.ts");
  assert.equal(m.runtime, "deno");
  assert.equal(parseManifest(edited({ entry: "bin/mirror" }), FILE).runtime, "exec");
  assert.deepEqual(parseManifest(edited({ permissions: undefined }), FILE).permissions, {});
});

Deno.test("a bad manifest names the file, line and field", () => {
  const e = invalid(edited({ api_version: "1" }));
  assert.equal(e.details.file, FILE);
  assert.equal(e.details.field, "api_version");
  assert.equal(e.details.line, 4);
  assert.match(e.message, /plugin manifest \/p\/mirror\/lode-plugin.json is invalid at line 4, api_version/);
  assert.equal(invalid("{ not json").details.field, "(root)");
});

Deno.test("refused: a newer api_version, a hook group lode lacks, a reserved scheme, a registry without schemes", () => {
  assert.match(invalid(edited({ api_version: 2 })).message, /api_version this lode implements/);
  assert.equal(invalid(edited({ hooks: ["exporter"] })).details.field, "hooks[0]");
  assert.match(invalid(edited({ schemes: ["hf"] })).message, /belongs to a built-in registry/);
  assert.match(invalid(edited({ schemes: [] })).message, /claims at least one scheme/);
  assert.match(
    invalid(edited({ hooks: ["sink"] })).message,
    /only a plugin with the "registry" hooks claims schemes/,
  );
  assert.equal(invalid(edited({ entry: "../other/main.ts" })).details.field, "entry");
  assert.equal(invalid(edited({ extra: 1 })).details.field, "extra");
});

Deno.test("refused: a permission without a reason, a net entry with a scheme, lode's secrets", () => {
  const noReason = invalid(edited({ permissions: { read: [{ path: "x", reason: " " }] } }));
  assert.equal(noReason.details.field, "permissions.read[0].reason");
  const url = invalid(edited({ permissions: { net: [{ host: "https://x.test", reason: "r" }] } }));
  assert.equal(url.details.field, "permissions.net[0].host");
  const hf = invalid(edited({ permissions: { env: [{ name: "HF_TOKEN", reason: "download" }] } }));
  assert.match(hf.message, /HF_TOKEN is lode's own secret/);
});

Deno.test("readManifest: a folder without lode-plugin.json is PLUGIN_MANIFEST_INVALID", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const e = await readManifest(dir).then(() => assert.fail(), (e) => e);
    assert.ok(isLodeError(e, "PLUGIN_MANIFEST_INVALID"));
    assert.equal(e.details.file, `${dir}/lode-plugin.json`);
    await Deno.writeTextFile(`${dir}/lode-plugin.json`, JSON.stringify(good));
    assert.equal((await readManifest(dir)).entryPath, `${dir}/main.ts`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
