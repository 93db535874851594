import assert from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import { exportBundleToFile } from "./bundle_export.ts";
import { importBundle } from "./bundle_import.ts";
import { TarReader } from "./bundle_tar_reader.ts";
import { writeFileAtomic } from "./atomic_write.ts";
import { importModelFile } from "./import_file.ts";
import { type Manifest, serializeManifest } from "./manifest.ts";
import { ModelStore } from "./model_store.ts";
import { ggufWith } from "../../tests/support/gguf_bytes.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";

const FIXTURE = new URL("../../tests/fixtures/stories260K.gguf", import.meta.url).pathname;

const withDir = (body: (dir: string) => Promise<void>) => withTempDir(body, { prefix: "lode-bundle-unit-" });

/** A store with a two-file model "multi": the fixture as its main blob and a second file. */
async function multiFileStore(dir: string): Promise<{ store: ModelStore; manifest: Manifest }> {
  const store = await ModelStore.open(`${dir}/a`);
  const main = (await importModelFile(store, FIXTURE, { name: "multi" })).manifest;
  await Deno.writeFile(`${dir}/mmproj.gguf`, ggufWith(new Uint8Array(300_001).map((_, i) => i % 251)));
  const extra = (await importModelFile(store, `${dir}/mmproj.gguf`, { name: "mmproj" })).manifest;
  await Deno.remove(store.layout.manifestPath("mmproj"));
  const manifest: Manifest = {
    ...main,
    files: [
      { role: "model", filename: "stories260K.gguf", blob: main.blob, size_bytes: main.size_bytes },
      { role: "mmproj", filename: "mmproj.gguf", blob: extra.blob, size_bytes: extra.size_bytes },
    ],
  };
  await writeFileAtomic(store.layout.manifestPath("multi"), serializeManifest(manifest));
  return { store, manifest };
}

async function importFile(store: ModelStore, path: string, name?: string) {
  using file = await Deno.open(path);
  return await importBundle(store, new TarReader(file, path), { name });
}

Deno.test("a multi-file model: every blob of `files` travels, once each, and the manifest last", async () => {
  await withDir(async (dir) => {
    const { store, manifest } = await multiFileStore(dir);
    const blobs: string[] = [];
    const out = await exportBundleToFile(store, "multi", `${dir}/m.lode`, {
      onBlob: (b) => blobs.push(b.sha256),
    });
    assert.deepEqual(blobs, [manifest.blob.slice(7), manifest.files![1]!.blob.slice(7)]);
    assert.equal(out.bundleBytes, (await Deno.stat(`${dir}/m.lode`)).size);
    const target = await ModelStore.open(`${dir}/b`);
    const r = await importFile(target, `${dir}/m.lode`);
    assert.equal(r.blobs.length, 2);
    assert.deepEqual(await target.getManifest("multi"), manifest);
    for (const f of manifest.files!) assert.ok(await target.hasBlob(f.blob.slice(7)));
    assert.equal((await importFile(target, `${dir}/m.lode`)).alreadyPresent, true);
  });
});

Deno.test("importing a different model under a taken name replaces it and names the old blob", async () => {
  await withDir(async (dir) => {
    const { store } = await multiFileStore(dir);
    await exportBundleToFile(store, "multi", `${dir}/m.lode`);
    const target = await ModelStore.open(`${dir}/b`);
    await Deno.writeFile(`${dir}/other.gguf`, ggufWith(new Uint8Array(1000).fill(5)));
    const old = (await importModelFile(target, `${dir}/other.gguf`, { name: "x" })).manifest;
    const r = await importFile(target, `${dir}/m.lode`, "x");
    assert.equal(r.replaced, old.blob);
    assert.equal(r.alreadyPresent, false);
    assert.equal((await target.getManifest("x")).files?.length, 2);
  });
});

Deno.test("export failures: a missing model, a missing blob, a corrupt blob; no bundle file is left", async () => {
  await withDir(async (dir) => {
    const { store, manifest } = await multiFileStore(dir);
    const path = `${dir}/m.lode`;
    await assert.rejects(exportBundleToFile(store, "nope", path), (e) => isLodeError(e, "MODEL_NOT_FOUND"));
    const second = store.layout.blobPath(manifest.files![1]!.blob.slice(7));
    const bytes = await Deno.readFile(second);
    await Deno.chmod(second, 0o644);
    bytes[10] = bytes[10]! ^ 0xff;
    await Deno.writeFile(second, bytes);
    await assert.rejects(exportBundleToFile(store, "multi", path), (e) => isLodeError(e, "DIGEST_MISMATCH"));
    await Deno.remove(second);
    await assert.rejects(exportBundleToFile(store, "multi", path), (e) => isLodeError(e, "BLOB_MISSING"));
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
      "a",
      "mmproj.gguf",
    ]);
  });
});
