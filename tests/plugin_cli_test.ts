/**
 * `lode plugin ls | add | rm | test | new` with the real CLI in child processes and real plugin
 * processes: a scaffolded registry and sink pass their conformance suites, a plugin that writes garbage
 * fails them, `add` refuses run permissions without `--yes`, `rm` of an unknown name is PLUGIN_NOT_FOUND.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runLode } from "./support/lode_cli.ts";
import { withTempDir } from "./support/temp_dir.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/plugins", import.meta.url));

Deno.test("lode plugin new makes a registry and a sink that pass lode plugin test", async () => {
  await withTempDir(async (dir) => {
    const store = `${dir}/store`;
    for (const kind of ["registry", "sink"]) {
      const made = await runLode(["plugin", "new", kind, `${dir}/new/my_${kind}`, "--json"], { store });
      assert.equal(made.code, 0, made.stderr);
      assert.equal(made.events[0]?.event, "plugin_created");
      const tested = await runLode(["plugin", "test", `${dir}/new/my_${kind}`, "--json"], { store });
      assert.equal(tested.code, 0, tested.stdout + tested.stderr);
      const checks = tested.events.filter((e) => e.event === "plugin_check");
      assert.ok(checks.length >= 5, tested.stdout);
      assert.ok(checks.every((c) => c.ok === true), tested.stdout);
    }
    const again = await runLode(["plugin", "new", "registry", `${dir}/new/my_registry`], { store });
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /exists already/);
  });
});

Deno.test("lode plugin test fails a plugin that breaks the protocol, naming the checks", async () => {
  await withTempDir(async (dir) => {
    const r = await runLode(["plugin", "test", `${FIXTURES}/non_json`, "--json"], { store: `${dir}/store` });
    assert.equal(r.code, 1, r.stderr);
    const error = r.events.find((e) => e.event === "error") as {
      code: string;
      details: { failed: string[] };
    };
    assert.equal(error.code, "PLUGIN_FAILED");
    assert.ok(error.details.failed.some((f) => f.startsWith("hello:")), r.stdout);
  });
});

Deno.test("lode plugin add shows the permissions, needs --yes for run, and ls and rm see it", async () => {
  await withTempDir(async (dir) => {
    const store = `${dir}/store`;
    const plugin = `${dir}/runner`;
    await Deno.mkdir(plugin);
    await Deno.writeTextFile(
      `${plugin}/lode-plugin.json`,
      JSON.stringify({
        name: "runner",
        version: "1.0.0",
        api_version: 1,
        hooks: ["sink"],
        entry: "main.ts",
        permissions: { run: [{ command: "git", reason: "reads the repository's head" }] },
      }),
    );
    await Deno.writeTextFile(`${plugin}/main.ts`, "");
    const refused = await runLode(["plugin", "add", plugin], { store });
    assert.equal(refused.code, 6, refused.stderr);
    assert.match(refused.stderr, /run git: reads the repository's head/);
    assert.match(refused.stderr, /PLUGIN_DENIED/);
    const empty = await runLode(["plugin", "ls", "--json"], { store });
    assert.deepEqual(empty.events, []);

    const added = await runLode(["plugin", "add", plugin, "--yes", "--json"], { store });
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.events[0]?.event, "plugin_added");
    const ls = await runLode(["plugin", "ls", "--json"], { store });
    assert.deepEqual(ls.events.map((e) => [e.event, e.name, e.installed]), [["plugin", "runner", true]]);

    // A run permission the manifest gains after add is not accepted; --plugin grants no run at all.
    const manifest = JSON.parse(await Deno.readTextFile(`${plugin}/lode-plugin.json`));
    manifest.permissions.run.push({ command: "curl", reason: "fetches things" });
    await Deno.writeTextFile(`${plugin}/lode-plugin.json`, JSON.stringify(manifest));
    const grown = await runLode(["pull", "some:thing"], { store });
    assert.equal(grown.code, 6, grown.stderr);
    assert.match(grown.stderr, /plugin runner asks for run curl, which were not accepted/);
    const given = await runLode(["pull", "some:thing", "--plugin", plugin], { store });
    assert.equal(given.code, 6, given.stderr);
    assert.match(given.stderr, /--plugin is not given/);

    const rm = await runLode(["plugin", "rm", "runner"], { store });
    assert.equal(rm.code, 0, rm.stderr);
    const gone = await runLode(["plugin", "rm", "runner", "--json"], { store });
    assert.equal(gone.code, 3, gone.stderr);
    assert.equal(gone.events.find((e) => e.event === "error")?.code, "PLUGIN_NOT_FOUND");
    assert.ok((await Deno.stat(`${plugin}/lode-plugin.json`)).isFile, "rm leaves the plugin's own folder");
  });
});

Deno.test("lode plugin add of a folder without a valid manifest is PLUGIN_MANIFEST_INVALID", async () => {
  await withTempDir(async (dir) => {
    const r = await runLode(["plugin", "add", dir], { store: `${dir}/store` });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /PLUGIN_MANIFEST_INVALID/);
  });
});
