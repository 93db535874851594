import assert from "node:assert/strict";
import { sha256Bytes } from "./hash.ts";
import { ModelStore } from "./model_store.ts";
import { checkBlob } from "./verify_model.ts";
import { isVerifiedByLode, recordVerified, verifiedRecordPath } from "./verified_record.ts";

const BYTES = new TextEncoder().encode("the verified bytes of a tiny model\n".repeat(100));
const HEX = sha256Bytes(BYTES);

async function withCommitted(body: (store: ModelStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-vrec-" });
  try {
    const store = await ModelStore.open(`${dir}/store`);
    await Deno.mkdir(store.layout.partialDir(HEX), { recursive: true });
    const tmp = `${store.layout.partialDir(HEX)}/data`;
    await Deno.writeFile(tmp, BYTES);
    await store.commitBlob(tmp, HEX);
    await body(store, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Waits until the file system's clock has moved past `path`'s mtime (file timestamps tick every few ms):
 * a change made in the same tick as lode's own write keeps the identity lode recorded, which no stat
 * can tell apart (git's "racy" case; `lode verify` re-hashes regardless).
 */
async function pastTimestampOf(path: string, dir: string): Promise<void> {
  const { mtime } = await Deno.stat(path);
  for (let i = 0; i < 1000; i++) {
    await Deno.writeFile(`${dir}/tick`, new Uint8Array([i % 256]));
    if ((await Deno.stat(`${dir}/tick`)).mtime!.getTime() > mtime!.getTime()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error("the file system's clock did not move");
}

Deno.test("a blob committed by lode is recorded as verified by lode", async () => {
  await withCommitted(async (store) => {
    assert.equal(await isVerifiedByLode(store.layout, HEX), true);
    const record = JSON.parse(await Deno.readTextFile(verifiedRecordPath(store.layout, HEX)));
    assert.equal(record.sha256, HEX);
    assert.equal(record.size, BYTES.length);
    assert.equal(typeof record.ino, "number");
  });
});

Deno.test("a restored copy (new file, same bytes, same mtime) is not trusted until re-hashed", async () => {
  await withCommitted(async (store, dir) => {
    const path = store.layout.blobPath(HEX);
    const { mtime } = await Deno.stat(path);
    // What a cache restore does: the file is created anew, with its mtime set back.
    await Deno.copyFile(path, `${dir}/copy`);
    await Deno.remove(path);
    await Deno.rename(`${dir}/copy`, path);
    await Deno.utime(path, mtime!, mtime!);
    assert.equal(await isVerifiedByLode(store.layout, HEX), false);
    const check = await checkBlob(store, HEX);
    assert.equal(check.ok, true);
    assert.equal(await isVerifiedByLode(store.layout, HEX), true, "a successful re-hash records the file");
  });
});

Deno.test("bytes changed in place are not trusted; a failed check drops the record", async () => {
  await withCommitted(async (store, dir) => {
    const path = store.layout.blobPath(HEX);
    await pastTimestampOf(path, dir);
    await Deno.chmod(path, 0o644);
    using file = await Deno.open(path, { write: true });
    await file.write(new Uint8Array([0x58]));
    assert.equal(await isVerifiedByLode(store.layout, HEX), false);
    const check = await checkBlob(store, HEX);
    assert.equal(check.ok, false);
    assert.ok(check.quarantinePath);
    await assert.rejects(Deno.stat(verifiedRecordPath(store.layout, HEX)), Deno.errors.NotFound);
  });
});

Deno.test("no record, a missing blob or a malformed record: not trusted", async () => {
  await withCommitted(async (store) => {
    const recordPath = verifiedRecordPath(store.layout, HEX);
    await Deno.writeTextFile(recordPath, "{not json");
    assert.equal(await isVerifiedByLode(store.layout, HEX), false);
    await Deno.writeTextFile(recordPath, JSON.stringify({ sha256: HEX }));
    assert.equal(await isVerifiedByLode(store.layout, HEX), false);
    await Deno.remove(recordPath);
    assert.equal(await isVerifiedByLode(store.layout, HEX), false);
    await recordVerified(store.layout, HEX);
    assert.equal(await isVerifiedByLode(store.layout, HEX), true);
    await Deno.remove(store.layout.blobDir(HEX), { recursive: true });
    assert.equal(await isVerifiedByLode(store.layout, HEX), false);
  });
});
