import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { acquireFileLock } from "./file_lock.ts";
import { importModelFile } from "./import_file.ts";
import { verifyModel } from "./verify_model.ts";
import { exists, ModelStore } from "./model_store.ts";
import { verifiedRecordPath } from "./verified_record.ts";

const HELLO = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
const OTHER = "ab".repeat(32);

interface World {
  dir: string;
  store: ModelStore;
  /** Writes `text` to a file outside the store and returns its path. */
  file(name: string, text: string): Promise<string>;
}

async function withStore(body: (w: World) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-store-" });
  try {
    const store = await ModelStore.open(`${dir}/store`);
    await Deno.mkdir(`${dir}/src`);
    await body({
      dir,
      store,
      file: async (name, text) => {
        await Deno.writeTextFile(`${dir}/src/${name}`, text);
        return `${dir}/src/${name}`;
      },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every file under `root`, relative, sorted (directories omitted). */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string, prefix: string): Promise<void> {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await walk(`${dir}/${e.name}`, `${prefix}${e.name}/`);
      else out.push(`${prefix}${e.name}`);
    }
  }
  await walk(root, "");
  return out.sort();
}

function code(c: string): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof LodeError, String(e));
    assert.equal(e.code, c, e.message);
    return true;
  };
}

Deno.test("ModelStore.open creates nothing; a store that does not exist lists empty", async () => {
  await withStore(async ({ store }) => {
    assert.deepEqual(await store.list(), { models: [], problems: [] });
    await assert.rejects(Deno.stat(store.layout.root), Deno.errors.NotFound);
  });
});

Deno.test("importFile writes the blob and then the manifest, unpinned without a sha256", async () => {
  await withStore(async ({ store, file }) => {
    const src = await file("hello.txt", "hello world");
    const { manifest, path } = await importModelFile(store, src, { name: "hello", format: "text" });
    assert.equal(path, store.layout.blobPath(HELLO));
    assert.equal(await Deno.readTextFile(path), "hello world");
    assert.equal(manifest.schema_version, 1);
    assert.equal(manifest.name, "hello");
    assert.equal(manifest.format, "text");
    assert.equal(manifest.blob, `sha256:${HELLO}`);
    assert.equal(manifest.size_bytes, 11);
    assert.equal(manifest.license, null);
    assert.deepEqual(manifest.source, { registry: "file", repo: "", revision: "", filename: "hello.txt" });
    assert.equal(manifest.produced_by, `lode/${VERSION}`);
    assert.match(manifest.produced_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(manifest.pinned, false);
    // What is on disk is what was returned, and nothing else is left behind (no partials).
    assert.deepEqual(await store.readManifest("hello"), manifest);
    assert.deepEqual(await store.getManifest("hello"), manifest);
    assert.equal(await store.blobPathOf("hello"), path);
    assert.ok(await store.hasBlob(HELLO));
    const files = (await tree(store.layout.root)).filter((f) => !f.startsWith("locks/"));
    assert.deepEqual(files, [`blobs/sha256/b9/${HELLO}/data`, "manifests/hello.json"]);
    // The source file is copied, not moved.
    assert.equal(await Deno.readTextFile(src), "hello world");
  });
});

Deno.test("importFile with the right sha256 (any case) is pinned", async () => {
  await withStore(async ({ store, file }) => {
    const src = await file("hello.txt", "hello world");
    const { manifest } = await importModelFile(store, src, {
      name: "hello",
      format: "text",
      expectedSha256: HELLO.toUpperCase(),
    });
    assert.equal(manifest.pinned, true);
    assert.equal(manifest.blob, `sha256:${HELLO}`);
  });
});

Deno.test("importFile with a wrong sha256: DIGEST_MISMATCH, copy quarantined, no manifest, no blob", async () => {
  await withStore(async ({ store, file }) => {
    const src = await file("hello.txt", "hello world");
    const err = await importModelFile(store, src, { name: "hello", format: "text", expectedSha256: OTHER })
      .then(
        () => assert.fail("imported"),
        (e) => e,
      );
    assert.ok(err instanceof LodeError);
    assert.equal(err.code, "DIGEST_MISMATCH");
    assert.equal(err.exitCode, 4);
    assert.equal(err.details.expected, OTHER);
    assert.equal(err.details.actual, HELLO);
    const qPath = String(err.details.quarantine_path);
    assert.ok(qPath.startsWith(store.layout.quarantineDir + "/"), qPath);
    assert.equal(await Deno.readTextFile(qPath), "hello world");
    const record = JSON.parse(await Deno.readTextFile(qPath.replace(/\.data$/, ".json")));
    assert.equal(record.reason, "digest_mismatch");
    assert.equal(record.expected, OTHER);
    assert.equal(record.actual, HELLO);
    assert.equal(record.source, src);
    assert.equal(record.name, "hello");
    assert.equal(await store.readManifest("hello"), null);
    assert.equal(await store.hasBlob(HELLO), false);
    const files = (await tree(store.layout.root)).filter((f) => !f.startsWith("locks/"));
    assert.deepEqual(files, [], "no manifest, no blob, no partial");
    assert.equal((await tree(store.layout.quarantineDir)).length, 2, "data + json record");
    assert.equal(await Deno.readTextFile(src), "hello world", "the source is untouched");
  });
});

Deno.test("importFile of a missing file leaves nothing behind", async () => {
  await withStore(async ({ dir, store }) => {
    await assert.rejects(
      importModelFile(store, `${dir}/src/nope.gguf`, { name: "nope", format: "text" }),
      code("FILE_NOT_FOUND"),
    );
    const files = (await tree(store.layout.root)).filter((f) => !f.startsWith("locks/"));
    assert.deepEqual(files, []);
  });
});

Deno.test("importFile refuses an invalid name before touching anything", async () => {
  await withStore(async ({ store, file }) => {
    const src = await file("hello.txt", "hello world");
    await assert.rejects(
      importModelFile(store, src, { name: "../evil", format: "text" }),
      code("INVALID_REF"),
    );
    await assert.rejects(Deno.stat(store.layout.root), Deno.errors.NotFound);
  });
});

Deno.test("two names share one blob: removing one keeps it, removing the other deletes it", async () => {
  await withStore(async ({ store, file }) => {
    const src = await file("hello.txt", "hello world");
    const a = await importModelFile(store, src, { name: "a", format: "text" });
    const b = await importModelFile(store, src, { name: "b", format: "text" });
    assert.equal(a.path, b.path);
    assert.deepEqual(await store.referencedBlobs(), new Set([HELLO]));
    await Deno.stat(verifiedRecordPath(store.layout, HELLO));
    assert.deepEqual(await store.remove("a"), { blobRemoved: false, blobsRemoved: 0, blobsKept: 1 });
    assert.equal(await store.readManifest("a"), null);
    assert.ok(await store.hasBlob(HELLO));
    assert.equal(await store.blobPathOf("b"), b.path);
    assert.deepEqual(await store.remove("b"), { blobRemoved: true, blobsRemoved: 1, blobsKept: 0 });
    await assert.rejects(Deno.stat(verifiedRecordPath(store.layout, HELLO)), Deno.errors.NotFound);
    assert.equal(await store.hasBlob(HELLO), false);
    assert.equal(await exists(store.layout.blobDir(HELLO)), false);
    assert.deepEqual((await store.list()).models, []);
    await assert.rejects(store.remove("b"), code("MODEL_NOT_FOUND"));
  });
});

Deno.test("remove with wait:false fails with LOCK_CONTENDED while the name is locked", async () => {
  await withStore(async ({ store, file }) => {
    await importModelFile(store, await file("hello.txt", "hello world"), { name: "a", format: "text" });
    const held = await acquireFileLock(store.layout.nameLockPath("a"), { name: "a" });
    try {
      await assert.rejects(store.remove("a", { wait: false }), code("LOCK_CONTENDED"));
      assert.ok(await store.readManifest("a"));
    } finally {
      await held.release();
    }
    assert.deepEqual(await store.remove("a", { wait: false }), {
      blobRemoved: true,
      blobsRemoved: 1,
      blobsKept: 0,
    });
  });
});

Deno.test("remove with wait:false while the blob is locked fails without removing anything", async () => {
  await withStore(async ({ store, file }) => {
    await importModelFile(store, await file("hello.txt", "hello world"), { name: "a", format: "text" });
    // Another process is, say, verifying the blob: it holds the blob lock, not the name lock.
    const held = await acquireFileLock(store.layout.blobLockPath(HELLO), { name: "blob" });
    try {
      await assert.rejects(store.remove("a", { wait: false }), code("LOCK_CONTENDED"));
      // A failed `lode rm` must not have half-happened: the model is still there.
      assert.ok(await store.readManifest("a"), "the manifest was deleted although remove() failed");
    } finally {
      await held.release();
    }
  });
});

Deno.test("verify: an intact blob is ok", async () => {
  await withStore(async ({ store, file }) => {
    await importModelFile(store, await file("hello.txt", "hello world"), { name: "hello", format: "text" });
    const seen: number[] = [];
    const r = await verifyModel(store, "hello", { onProgress: (n) => seen.push(n) });
    assert.deepEqual(r, { name: "hello", ok: true, expected: HELLO, actual: HELLO, sizeBytes: 11 });
    assert.equal(seen.at(-1), 11);
  });
});

Deno.test("verify: a corrupt blob is quarantined with reason corrupt_on_disk; the manifest stays", async () => {
  await withStore(async ({ store, file }) => {
    const { path } = await importModelFile(store, await file("hello.txt", "hello world"), {
      name: "hello",
      format: "text",
    });
    await Deno.writeTextFile(path, "hello wOrld");
    const r = await verifyModel(store, "hello");
    assert.equal(r.ok, false);
    assert.equal(r.problem, "DIGEST_MISMATCH");
    assert.equal(r.expected, HELLO);
    assert.ok(r.actual && r.actual !== HELLO);
    assert.ok(r.quarantinePath?.startsWith(store.layout.quarantineDir + "/"), r.quarantinePath);
    assert.equal(await Deno.readTextFile(r.quarantinePath!), "hello wOrld");
    const record = JSON.parse(await Deno.readTextFile(r.quarantinePath!.replace(/\.data$/, ".json")));
    assert.equal(record.reason, "corrupt_on_disk");
    assert.equal(record.source, "store");
    assert.equal(record.expected, HELLO);
    assert.equal(record.actual, r.actual);
    assert.equal(record.name, "hello");
    // Nothing wrong is left at the CAS path; the manifest stays so a pull can repair it.
    assert.equal(await exists(store.layout.blobDir(HELLO)), false);
    assert.ok(await store.readManifest("hello"));
    await assert.rejects(store.blobPathOf("hello"), code("BLOB_MISSING"));
    assert.deepEqual(await verifyModel(store, "hello"), {
      name: "hello",
      ok: false,
      expected: HELLO,
      actual: null,
      problem: "BLOB_MISSING",
      sizeBytes: 0,
    });
  });
});

Deno.test("list: one malformed manifest gives the good ones plus one problem; it can be removed", async () => {
  await withStore(async ({ store, file }) => {
    const src = await file("hello.txt", "hello world");
    await importModelFile(store, src, { name: "zeta", format: "text" });
    await importModelFile(store, src, { name: "alpha", format: "text" });
    const bad = store.layout.manifestPath("broken");
    await Deno.writeTextFile(bad, '{"schema_version": 1, "name": "broken"');
    // Not manifests: ignored.
    await Deno.writeTextFile(`${store.layout.manifestsDir}/.tmp-123`, "{");
    await Deno.writeTextFile(`${store.layout.manifestsDir}/notes.txt`, "{");
    const { models, problems } = await store.list();
    assert.deepEqual(models.map((m) => m.name), ["alpha", "zeta"]);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.code, "MANIFEST_INVALID");
    assert.equal(problems[0]?.details.file, bad);
    await assert.rejects(store.getManifest("broken"), code("MANIFEST_INVALID"));
    assert.deepEqual(await store.remove("broken"), { blobRemoved: false, blobsRemoved: 0, blobsKept: 0 });
    assert.equal((await store.list()).problems.length, 0);
    assert.ok(await store.hasBlob(HELLO));
  });
});

Deno.test("remove keeps a blob that a manifest which no longer parses still names", async () => {
  await withStore(async ({ store, file }) => {
    await importModelFile(store, await file("hello.txt", "hello world"), { name: "a", format: "text" });
    // A damaged manifest of another model that names the same blob.
    await Deno.writeTextFile(
      store.layout.manifestPath("damaged"),
      `{"name": "damaged", "blob": "sha256:${HELLO}"`,
    );
    assert.deepEqual(await store.remove("a"), { blobRemoved: false, blobsRemoved: 0, blobsKept: 1 });
    assert.ok(await store.hasBlob(HELLO), "a blob a damaged manifest names was deleted");
  });
});

Deno.test("getManifest: MODEL_NOT_FOUND for a missing name, INVALID_REF for a bad one", async () => {
  await withStore(async ({ store }) => {
    await assert.rejects(store.getManifest("missing"), code("MODEL_NOT_FOUND"));
    await assert.rejects(store.blobPathOf("missing"), code("MODEL_NOT_FOUND"));
    await assert.rejects(verifyModel(store, "missing"), code("MODEL_NOT_FOUND"));
    await assert.rejects(store.getManifest("a/b"), code("INVALID_REF"));
    assert.equal(await store.readManifest("missing"), null);
  });
});
