/** `lode import`, `lode path` and `lode rm` through the real CLI. */
import assert from "node:assert/strict";
import { listTree, runLode, storeEvents } from "./support/lode_cli.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;
const SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const BLOB = `blobs/sha256/27/${SHA}/data`;

Deno.test("import two names sharing a blob; path prints it; rm keeps it until the last name goes", async () => {
  const store = await Deno.makeTempDir({ prefix: "lode-import-" });
  try {
    const lode = (...args: string[]) => runLode(args, { store });
    assert.equal((await lode("import", FIXTURE)).code, 0);
    const named = await lode("import", FIXTURE, "--name", "tiny", "--sha256", SHA, "--json");
    assert.equal(named.code, 0, named.stderr);
    assert.deepEqual(storeEvents(named.stdout), [
      {
        event: "imported",
        name: "tiny",
        blob: `sha256:${SHA}`,
        size_bytes: 1185376,
        path: `${store}/${BLOB}`,
      },
    ]);
    const path = await lode("path", "tiny");
    assert.equal(path.stdout, `${store}/${BLOB}\n`);
    const pathJson = await lode("path", "tiny", "--json");
    assert.deepEqual(storeEvents(pathJson.stdout), [{
      event: "path",
      name: "tiny",
      path: `${store}/${BLOB}`,
    }]);
    assert.equal((await Deno.stat(`${store}/${BLOB}`)).mode! & 0o222, 0, "committed blobs are read-only");
    const first = await lode("rm", "stories260K");
    assert.match(first.stdout, /blob kept/);
    assert.ok((await listTree(store)).includes(BLOB));
    const last = await lode("rm", "tiny", "--json");
    assert.equal(last.code, 0, last.stderr);
    assert.deepEqual(storeEvents(last.stdout), [
      { event: "removed", name: "tiny", blob_removed: true, blobs_removed: 1, blobs_kept: 0 },
    ]);
    assert.ok(!(await listTree(store)).some((p) => p.startsWith("blobs/") || p.startsWith("manifests/")));
    // An empty store: verify --all says there is nothing to verify, for people and with --json.
    const empty = await lode("verify", "--all");
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, `no models in the store (${store}): nothing to verify\n`);
    const emptyJson = await lode("verify", "--all", "--json");
    assert.deepEqual(
      storeEvents(emptyJson.stdout).map((e) => e.event === "verify_done" && [e.models, e.failed]),
      [
        [0, 0],
      ],
    );
    const gone = await lode("rm", "tiny", "--json");
    assert.equal(gone.code, 3);
    assert.deepEqual(storeEvents(gone.stdout).map((e) => e.event === "error" && e.code), ["MODEL_NOT_FOUND"]);
    const wrong = await lode("import", FIXTURE, "--sha256", "f".repeat(64));
    assert.equal(wrong.code, 4);
    assert.ok(!(await listTree(store)).some((p) => p.startsWith("manifests/")));
    assert.ok((await listTree(store)).some((p) => p.startsWith("locks/quarantine/") && p.endsWith(".json")));
  } finally {
    await Deno.remove(store, { recursive: true });
  }
});
