import assert from "node:assert/strict";
import { isLodeError, type LodeError } from "../errors.ts";
import { importModelFile } from "./import_file.ts";
import { type Manifest, serializeManifest } from "./manifest.ts";
import { ModelStore } from "./model_store.ts";
import { verifyModel } from "./verify_model.ts";
import { writeFileAtomic } from "./atomic_write.ts";
import { ggufWith } from "../../tests/support/gguf_bytes.ts";
import { listTree } from "../../tests/support/lode_cli.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";

const FIXTURE = new URL("../../tests/fixtures/stories260K.gguf", import.meta.url).pathname;
const FIXTURE_BYTES = await Deno.readFile(FIXTURE);

const withStore = (body: (dir: string, store: ModelStore) => Promise<void>) =>
  withTempDir(async (dir) => body(dir, await ModelStore.open(`${dir}/store`)), {
    prefix: "lode-wellformed-",
  });

async function rejection(p: Promise<unknown>): Promise<LodeError> {
  const e = await p.then(() => assert.fail("resolved"), (e) => e);
  assert.ok(isLodeError(e), String(e));
  return e;
}

/** The store's files outside locks/ (lock files and quarantine are compared apart). */
async function contents(store: ModelStore): Promise<string[]> {
  return (await listTree(store.layout.root)).filter((p) => !p.startsWith("locks/"));
}

async function quarantineRecords(store: ModelStore): Promise<Record<string, unknown>[]> {
  const files = (await listTree(store.layout.quarantineDir)).filter((p) => p.endsWith(".json"));
  return await Promise.all(
    files.map(async (f) => JSON.parse(await Deno.readTextFile(`${store.layout.quarantineDir}/${f}`))),
  );
}

Deno.test("a text file, a truncated GGUF and GGUF magic + junk: GGUF_INVALID, quarantined with the reason, no manifest", async () => {
  await withStore(async (dir, store) => {
    await importModelFile(store, FIXTURE, { name: "good" });
    const before = await contents(store);
    const junk = new Uint8Array(50_000).map((_, i) => (i * 2654435761) >>> 24);
    const cases: [string, Uint8Array, RegExp][] = [
      ["notes.txt", new TextEncoder().encode("just some notes\n"), /wrong magic "just"/],
      ["cut.gguf", FIXTURE_BYTES.subarray(0, 600_000), /beyond the end of the file \(600000 bytes\)/],
      ["junk.gguf", new Uint8Array([...new TextEncoder().encode("GGUF"), ...junk]), /GGUF version/],
      [
        "junk3.gguf",
        new Uint8Array([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0, ...junk]),
        /tensor count \d+ exceeds/,
      ],
    ];
    for (const [file, bytes, why] of cases) {
      await Deno.writeFile(`${dir}/${file}`, bytes);
      const e = await rejection(importModelFile(store, `${dir}/${file}`, { name: "bad" }));
      assert.equal(e.code, "GGUF_INVALID", e.message);
      assert.equal(e.exitCode, 4);
      assert.match(e.message, why);
      assert.match(e.message, new RegExp(`^"bad" was not stored: ${file.replace(".", "\\.")}: `));
      assert.equal(e.details.filename, file);
      assert.match(e.hint, /--format NAME/);
      const q = e.details.quarantine_path as string;
      assert.deepEqual(await Deno.readFile(q), bytes, "the quarantined bytes are the file's");
      assert.equal(await store.readManifest("bad"), null);
      assert.deepEqual(await contents(store), before, "nothing but the quarantine changed");
    }
    const records = await quarantineRecords(store);
    assert.equal(records.length, cases.length);
    for (const r of records) {
      assert.equal(r.reason, "gguf_invalid");
      assert.equal(r.expected, r.actual);
      assert.equal(r.name, "bad");
      assert.match(r.problem as string, /\(at offset \d+\)$/);
      assert.match(r.source as string, new RegExp(`^${dir}/`));
    }
  });
});

Deno.test("a file of another format is stored unread; a GGUF of any bytes passes", async () => {
  await withStore(async (dir, store) => {
    await Deno.writeTextFile(`${dir}/tokenizer.json`, '{"model": {}}\n');
    const { manifest } = await importModelFile(store, `${dir}/tokenizer.json`, {
      name: "tok",
      format: "json",
    });
    assert.equal(manifest.format, "json");
    assert.equal((await verifyModel(store, "tok")).ok, true);
    await Deno.writeFile(`${dir}/tiny.gguf`, ggufWith(new Uint8Array(1000).fill(9)));
    assert.equal(
      (await importModelFile(store, `${dir}/tiny.gguf`, { name: "tiny" })).manifest.format,
      "gguf",
    );
  });
});

Deno.test("a bad blob another manifest names stays where it is; the gguf manifest is still refused", async () => {
  await withStore(async (dir, store) => {
    await Deno.writeTextFile(`${dir}/notes.txt`, "shared notes\n");
    const kept = await importModelFile(store, `${dir}/notes.txt`, { name: "notes", format: "text" });
    const e = await rejection(importModelFile(store, `${dir}/notes.txt`, { name: "model" }));
    assert.equal(e.code, "GGUF_INVALID");
    assert.match(e.message, /another model in the store names it/);
    assert.equal(e.details.quarantine_path, undefined);
    assert.equal(await store.readManifest("model"), null);
    assert.equal((await verifyModel(store, "notes")).ok, true, "the other model keeps its bytes");
    assert.equal(kept.manifest.format, "text");
  });
});

Deno.test("every file of a model is checked: a bad shard refuses the manifest and only it is quarantined", async () => {
  await withStore(async (dir, store) => {
    const good = (await importModelFile(store, FIXTURE, { name: "part1" })).manifest;
    await Deno.writeTextFile(`${dir}/part2.gguf`, "not the second shard\n");
    const bad =
      (await importModelFile(store, `${dir}/part2.gguf`, { name: "scratch", format: "text" })).manifest;
    // The second blob committed without a manifest, as a pull leaves it before writing the model's.
    await Deno.remove(store.layout.manifestPath("scratch"));
    const manifest: Manifest = {
      ...good,
      name: "split",
      files: [
        { role: "model", filename: "m-00001-of-00002.gguf", blob: good.blob, size_bytes: good.size_bytes },
        { role: "shard", filename: "m-00002-of-00002.gguf", blob: bad.blob, size_bytes: bad.size_bytes },
      ],
    };
    const e = await rejection(store.saveManifest(manifest));
    assert.equal(e.code, "GGUF_INVALID");
    assert.equal(e.details.filename, "m-00002-of-00002.gguf");
    assert.equal(await store.readManifest("split"), null);
    assert.ok(await store.hasBlob(good.blob.slice(7)), "the good shard (named by part1) stays");
    assert.equal(await store.hasBlob(bad.blob.slice(7)), false, "the bad shard left the CAS");
  });
});

Deno.test("verify: a gguf model whose bytes are not GGUF (stored before the check) is GGUF_INVALID, left in place", async () => {
  await withStore(async (dir, store) => {
    await Deno.writeTextFile(`${dir}/notes.txt`, "old notes\n");
    const { manifest } = await importModelFile(store, `${dir}/notes.txt`, { name: "old", format: "text" });
    // As an older lode wrote it: format gguf, bytes that are not.
    await writeFileAtomic(
      store.layout.manifestPath("old"),
      serializeManifest({ ...manifest, format: "gguf" }),
    );
    const r = await verifyModel(store, "old");
    assert.equal(r.ok, false);
    assert.equal(r.problem, "GGUF_INVALID");
    assert.match(r.reason!, /^notes\.txt: not a GGUF file: wrong magic/);
    assert.equal(r.sizeBytes, 10);
    assert.equal(r.quarantinePath, undefined);
    assert.ok(await store.hasBlob(manifest.blob.slice(7)), "verify does not move bytes that hash right");
  });
});

Deno.test("a model's license and chat template are text files: stored and verified, not read as GGUF", async () => {
  await withStore(async (dir, store) => {
    const model = (await importModelFile(store, FIXTURE, { name: "weights" })).manifest;
    await Deno.writeTextFile(`${dir}/LICENSE`, "MIT License\n");
    await Deno.writeTextFile(`${dir}/template.jinja`, "{{ messages }}\n");
    const license = (await importModelFile(store, `${dir}/LICENSE`, { name: "l", format: "text" })).manifest;
    const template = (await importModelFile(store, `${dir}/template.jinja`, { name: "t", format: "text" }))
      .manifest;
    const manifest: Manifest = {
      ...model,
      name: "with-text",
      files: [
        { role: "model", filename: "model.gguf", blob: model.blob, size_bytes: model.size_bytes },
        { role: "license", filename: "LICENSE", blob: license.blob, size_bytes: license.size_bytes },
        {
          role: "chat_template",
          filename: "template.jinja",
          blob: template.blob,
          size_bytes: template.size_bytes,
        },
      ],
    };
    await store.saveManifest(manifest);
    await Deno.remove(store.layout.manifestPath("l"));
    await Deno.remove(store.layout.manifestPath("t"));
    const r = await verifyModel(store, "with-text");
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.deepEqual(r.files?.map((f) => [f.role, f.ok]), [["model", true], ["license", true], [
      "chat_template",
      true,
    ]]);
    const path = await store.modelPathOf("with-text");
    assert.equal(await Deno.readTextFile(`${path.slice(0, path.lastIndexOf("/"))}/LICENSE`), "MIT License\n");
    // The same bytes under a GGUF role are refused.
    const e = await rejection(store.saveManifest({
      ...manifest,
      name: "as-shard",
      files: [manifest.files![0]!, { ...manifest.files![1]!, role: "shard" }],
    }));
    assert.equal(e.code, "GGUF_INVALID");
  });
});
