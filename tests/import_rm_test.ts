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

Deno.test("import refuses what is not a GGUF model: a text file, a truncated GGUF, GGUF magic + junk (exit 4, quarantined)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-import-bad-" });
  const store = `${dir}/store`;
  try {
    const lode = (...args: string[]) => runLode(args, { store });
    assert.equal((await lode("import", FIXTURE, "--name", "good")).code, 0);
    const kept = (await listTree(store)).filter((p) => !p.startsWith("locks/"));
    const fixture = await Deno.readFile(FIXTURE);
    const junk = new Uint8Array(200_000).map((_, i) => (i * 2654435761) >>> 24);
    const files: [string, Uint8Array, RegExp][] = [
      ["notes.txt", new TextEncoder().encode("meeting notes, not weights\n"), /wrong magic "meet"/],
      ["cut.gguf", fixture.subarray(0, fixture.length / 2), /beyond the end of the file/],
      [
        "junk.gguf",
        new Uint8Array([...new TextEncoder().encode("GGUF"), ...junk]),
        /unsupported GGUF version/,
      ],
      ["junk3.gguf", new Uint8Array([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0, ...junk]), /exceeds the limit/],
    ];
    for (const [name, bytes, why] of files) {
      await Deno.writeFile(`${dir}/${name}`, bytes);
      const r = await lode("import", `${dir}/${name}`, "--name", "bad", "--json");
      assert.equal(r.code, 4, r.stdout + r.stderr);
      const [error] = storeEvents(r.stdout);
      assert.ok(error?.event === "error" && error.code === "GGUF_INVALID", r.stdout);
      assert.match(error.message, why);
      assert.match(error.hint, /--format NAME/);
      assert.deepEqual(await Deno.readFile(String(error.details.quarantine_path)), bytes);
      assert.deepEqual(
        (await listTree(store)).filter((p) => !p.startsWith("locks/")),
        kept,
        "only quarantine",
      );
    }
    const records = (await listTree(`${store}/locks/quarantine`)).filter((p) => p.endsWith(".json"));
    assert.equal(records.length, files.length);
    for (const record of records) {
      const r = JSON.parse(await Deno.readTextFile(`${store}/locks/quarantine/${record}`));
      assert.equal(r.reason, "gguf_invalid");
      assert.match(r.problem, /\.(txt|gguf): /);
    }
    const ls = await lode("ls", "--json");
    assert.deepEqual(storeEvents(ls.stdout).map((e) => e.event === "model" && e.name), ["good"]);
    // A file that is not a model is stored with its format named; verify says ok.
    const json = await lode("import", `${dir}/notes.txt`, "--name", "notes", "--format", "json");
    assert.equal(json.code, 0, json.stderr);
    const formats = storeEvents((await lode("ls", "--json")).stdout).map((e) =>
      e.event === "model" && e.format
    );
    assert.deepEqual(formats, ["gguf", "json"]);
    assert.equal((await lode("verify", "--all")).code, 0);
    // The same bytes as a gguf model stored by an older lode: verify reports them, exit 4, and leaves them.
    const manifest = `${store}/manifests/notes.json`;
    await Deno.writeTextFile(manifest, (await Deno.readTextFile(manifest)).replace('"json"', '"gguf"'));
    const verify = await lode("verify", "notes");
    assert.equal(verify.code, 4);
    assert.match(verify.stderr, /error\[GGUF_INVALID\]: notes: its blob is not a well-formed GGUF model/);
    assert.match(verify.stderr, /lode rm notes/);
    assert.equal((await lode("path", "notes")).code, 0, "verify left the bytes in place");
    // A missing path is not found, naming it; a --format that is not a word is a usage error.
    const missing = await lode("import", `${dir}/nope.gguf`);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /error\[FILE_NOT_FOUND\]: no such file: .*nope\.gguf/);
    const badFormat = await lode("import", `${dir}/notes.txt`, "--format", "Not A Word");
    assert.equal(badFormat.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
