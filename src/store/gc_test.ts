import assert from "node:assert/strict";
import { GcEvent } from "../events/store_event.ts";
import { collectGarbage, type GcOptions } from "./gc.ts";
import { importModelFile } from "./import_file.ts";
import { ModelStore } from "./model_store.ts";
import { quarantineFile } from "./quarantine.ts";
import { sha256Bytes } from "./hash.ts";
import { verifiedRecordPath } from "./verified_record.ts";
import { ggufWith } from "../../tests/support/gguf_bytes.ts";
import { holdLock } from "../../tests/support/hold_lock.ts";
import { listTree } from "../../tests/support/lode_cli.ts";

const FIXTURE = new URL("../../tests/fixtures/stories260K.gguf", import.meta.url).pathname;
const DAY = 86_400_000;

interface World {
  root: string;
  store: ModelStore;
  /** A committed blob that no manifest references. */
  orphan: string;
  gc(
    options?: Partial<GcOptions>,
  ): Promise<{ events: GcEvent[]; summary: Awaited<ReturnType<typeof collectGarbage>> }>;
}

async function withStore(body: (w: World) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "lode-gc-" });
  try {
    const store = await ModelStore.open(root);
    await importModelFile(store, FIXTURE, { name: "stories" });
    const extra = `${root}/extra.bin`;
    await Deno.writeFile(extra, ggufWith(new Uint8Array(100_000).fill(7)));
    const { manifest } = await importModelFile(store, extra, { name: "gone" });
    await Deno.remove(store.layout.manifestPath("gone"));
    await Deno.remove(extra);
    const gc = async (options: Partial<GcOptions> = {}) => {
      const events: GcEvent[] = [];
      const summary = await collectGarbage(store, {
        olderThanMs: DAY,
        // Through the wire schema, as `--json` readers will parse it.
        onEvent: (e) => events.push(GcEvent.parse(JSON.parse(JSON.stringify(e)))),
        ...options,
      });
      return { events, summary };
    };
    await body({ root, store, orphan: manifest.blob.slice(7), gc });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** A partial directory with a data file, last written `ageMs` ago. */
async function partial(dir: string, ageMs: number): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(`${dir}/data.tmp`, new Uint8Array(50_000).fill(1));
  const then = new Date(Date.now() - ageMs);
  await Deno.utime(`${dir}/data.tmp`, then, then);
  await Deno.utime(dir, then, then);
}

Deno.test("gc removes unreferenced blobs and old partials, keeps referenced blobs and recent partials", async () => {
  await withStore(async ({ store, orphan, gc }) => {
    const { layout } = store;
    const oldPinned = layout.partialDir("ab".padEnd(64, "c"));
    const newPinned = layout.partialDir("cd".padEnd(64, "e"));
    const oldUnpinned = layout.unpinnedPartialDir(sha256Bytes("url:old"));
    await partial(oldPinned, 3 * DAY);
    await partial(newPinned, 60_000);
    await partial(oldUnpinned, 2 * DAY);
    const stories = (await store.getManifest("stories")).blob.slice(7);
    for (const hex of [orphan, stories]) await Deno.stat(verifiedRecordPath(layout, hex));
    const { events, summary } = await gc();
    const collected = events.filter((e) => e.event === "collected").map((e) => e.path).sort();
    assert.deepEqual(collected, [layout.blobDir(orphan), oldPinned, oldUnpinned].sort());
    assert.equal(summary.removed, 3);
    const bytes = events.reduce((n, e) => n + (e.event === "collected" ? e.bytes : 0), 0);
    assert.equal(summary.bytesFreed, bytes);
    assert.ok(bytes >= 100_000 + 2 * 50_000, `${bytes}`);
    assert.equal(summary.keptRecent, 1);
    assert.ok(await store.hasBlob((await store.getManifest("stories")).blob.slice(7)));
    assert.ok(!(await store.hasBlob(orphan)));
    assert.ok((await Deno.stat(newPinned)).isDirectory);
    // The removed blob's verified record goes with it; the kept blob's stays.
    await assert.rejects(Deno.stat(verifiedRecordPath(layout, orphan)), Deno.errors.NotFound);
    await Deno.stat(verifiedRecordPath(layout, stories));
    assert.equal(summary.verifiedRecordsPruned, 0);
    // A record left behind by an older lode (or restored from an archive without its blob) is pruned.
    const stale = "ef".repeat(32);
    await Deno.copyFile(verifiedRecordPath(layout, stories), verifiedRecordPath(layout, stale));
    const again = (await gc()).summary;
    assert.equal(again.removed, 0, "a second run has no blob or partial to remove");
    assert.equal(again.verifiedRecordsPruned, 1);
    await assert.rejects(Deno.stat(verifiedRecordPath(layout, stale)), Deno.errors.NotFound);
    await Deno.stat(verifiedRecordPath(layout, stories));
  });
});

Deno.test("--dry-run reports the same items and changes nothing, not even lock files", async () => {
  await withStore(async ({ root, store, gc }) => {
    await partial(store.layout.partialDir("ab".padEnd(64, "c")), 3 * DAY);
    const before = await listTree(root);
    const dry = await gc({ dryRun: true });
    assert.deepEqual(await listTree(root), before);
    assert.ok(dry.events.every((e) => e.event !== "collected" || e.dry_run));
    const real = await gc();
    assert.deepEqual(
      real.events.filter((e) => e.event === "collected").map((e) => e.path),
      dry.events.filter((e) => e.event === "collected").map((e) => e.path),
    );
    assert.equal(real.summary.bytesFreed, dry.summary.bytesFreed);
  });
});

Deno.test("a blob whose lock another process holds (committed, manifest not yet written) is skipped", async () => {
  await withStore(async ({ store, orphan, gc }) => {
    const holder = await holdLock(store.layout.blobLockPath(orphan));
    try {
      const { events, summary } = await gc({ olderThanMs: 0 });
      assert.equal(summary.skippedLocked, 1);
      const skipped = events.find((e) => e.event === "skipped");
      assert.ok(skipped?.event === "skipped");
      assert.deepEqual([skipped.kind, skipped.path, skipped.reason], [
        "blob",
        store.layout.blobDir(orphan),
        "locked",
      ]);
      assert.ok(await store.hasBlob(orphan));
    } finally {
      await holder.release();
    }
    assert.equal((await gc()).summary.removed, 1, "collected once the holder is gone");
  });
});

Deno.test("a pinned partial under a held blob lock, an unpinned one under a held name lock: skipped", async () => {
  await withStore(async ({ store, gc }) => {
    const hex = "ab".padEnd(64, "c");
    const pinned = store.layout.partialDir(hex);
    const unpinned = store.layout.unpinnedPartialDir(sha256Bytes("url:x"));
    await partial(pinned, 3 * DAY);
    await partial(unpinned, 3 * DAY);
    const blobHolder = await holdLock(store.layout.blobLockPath(hex));
    const nameHolder = await holdLock(store.layout.nameLockPath("stories"));
    try {
      const { summary, events } = await gc();
      assert.equal(summary.skippedLocked, 2);
      assert.deepEqual(
        events.filter((e) => e.event === "skipped").map((e) => e.event === "skipped" && [e.path, e.reason]),
        [[pinned, "locked"], [unpinned, "locked"]],
      );
      assert.ok((await Deno.stat(pinned)).isDirectory && (await Deno.stat(unpinned)).isDirectory);
    } finally {
      await blobHolder.release();
      await nameHolder.release();
    }
    const after = await gc();
    assert.ok(after.events.some((e) => e.event === "collected" && e.path === pinned));
    assert.ok(after.events.some((e) => e.event === "collected" && e.path === unpinned));
  });
});

Deno.test("a manifest that no longer parses still protects the blobs it names, and is reported", async () => {
  await withStore(async ({ store, orphan, gc }) => {
    await Deno.writeTextFile(
      store.layout.manifestPath("broken"),
      `{"name": "broken", "blob": "sha256:${orphan}",`,
    );
    const { events, summary } = await gc({ olderThanMs: 0 });
    assert.equal(summary.removed, 0);
    assert.ok(await store.hasBlob(orphan));
    assert.equal(events.find((e) => e.event === "problem")?.event === "problem", true);
  });
});

Deno.test("quarantined files stay unless asked; with quarantine, only those older than the threshold go", async () => {
  await withStore(async ({ root, store, gc }) => {
    const place = async (age: number) => {
      const file = `${root}/bad-${age}`;
      await Deno.writeFile(file, new Uint8Array(10_000));
      const q = await quarantineFile(store.layout, file, {
        expected: "a".repeat(64),
        actual: sha256Bytes(String(age)),
        source: "test",
        reason: "digest_mismatch",
      });
      const then = new Date(Date.now() - age);
      for (const p of [q.path, q.recordPath]) await Deno.utime(p, then, then);
      return q;
    };
    const old = await place(10 * DAY);
    const recent = await place(1000);
    const kept = await gc();
    assert.deepEqual(kept.summary.quarantineKept.items, 2);
    assert.ok(!kept.events.some((e) => e.event === "collected" && e.kind === "quarantine"));
    const { events } = await gc({ quarantine: true });
    assert.deepEqual(events.filter((e) => e.event === "collected").map((e) => e.path), [old.path]);
    const left = await listTree(store.layout.quarantineDir);
    assert.deepEqual(
      left.map((p) => `${store.layout.quarantineDir}/${p}`),
      [recent.path, recent.recordPath].sort(),
    );
  });
});

Deno.test("upload records of pushes never finished go after 7 days (or the threshold given); recent ones stay", async () => {
  await withStore(async ({ root, gc }) => {
    const dir = `${root}/locks/uploads`;
    await Deno.mkdir(dir, { recursive: true });
    const record = async (name: string, ageMs: number) => {
      await Deno.writeTextFile(
        `${dir}/${name}.json`,
        JSON.stringify({ location: "https://r/v2/m/blobs/uploads/u" }),
      );
      const then = new Date(Date.now() - ageMs);
      await Deno.utime(`${dir}/${name}.json`, then, then);
    };
    await record("old", 8 * DAY);
    await record("week", 2 * DAY);
    await record("new", 60_000);
    const first = await gc();
    const uploads = (kind: string, events: GcEvent[]) =>
      events.filter((e) => e.event === kind && "kind" in e && e.kind === "upload").map((e) =>
        (e as { path: string }).path.slice(dir.length + 1)
      ).sort();
    assert.deepEqual(uploads("collected", first.events), ["old.json"]);
    assert.deepEqual(uploads("skipped", first.events), ["new.json", "week.json"]);
    const second = await gc({ uploadsOlderThanMs: DAY });
    assert.deepEqual(uploads("collected", second.events), ["week.json"]);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["new.json"]);
  });
});
