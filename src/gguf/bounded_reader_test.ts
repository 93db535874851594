import assert from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";
import { BoundedReader } from "./bounded_reader.ts";

async function withFile(bytes: Uint8Array, body: (file: Deno.FsFile) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/f`, bytes);
    using file = await Deno.open(`${dir}/f`);
    await body(file);
  }, { prefix: "gguf-reader-" });
}

const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);

Deno.test("BoundedReader: reads across small chunks, skips, grows for a long item", async () => {
  await withFile(bytes, async (file) => {
    const r = new BoundedReader(file, { fileSize: 1000, budget: 1000, label: "f", chunkBytes: 16 });
    await r.ensure(4);
    assert.equal(r.u32(), 0x03020100);
    assert.equal(r.offset, 4);
    await r.skip(10, "x"); // inside the buffer
    await r.ensure(1);
    assert.equal(r.u8(), 14);
    await r.skip(500, "x"); // past it: a seek
    assert.equal(r.offset, 515);
    await r.ensure(100); // more than a chunk
    assert.equal(r.utf8(1), String.fromCharCode(515 & 0xff));
    assert.equal(r.offset, 516);
    r.advance(99);
    assert.equal(r.remaining, 1000 - 615);
    await r.ensure(8);
    assert.equal(r.peekU64(), r.u64());
    assert.throws(() => r.advance(r.available + 1), RangeError);
  });
});

Deno.test("BoundedReader: the end of the file and the budget are GGUF_INVALID, with the offset", async () => {
  await withFile(bytes, async (file) => {
    const r = new BoundedReader(file, { fileSize: 1000, budget: 1000, label: "f", chunkBytes: 64 });
    await r.skip(990, "x");
    const e = await r.ensure(20, "the thing").then(() => undefined, (e) => e);
    assert.ok(isLodeError(e, "GGUF_INVALID"));
    assert.match(
      e.message,
      /^f: reading the thing needs 20 bytes but the file ends after 10 more .*\(at offset 990\)$/,
    );
    assert.deepEqual(e.details, { path: "f", offset: 990 });
  });
  await withFile(bytes, async (file) => {
    const r = new BoundedReader(file, { fileSize: 1000, budget: 100, label: "f" });
    await r.ensure(100);
    r.advance(50);
    assert.throws(() => r.check(51, "more"), /reading more goes past the header limit of 100 bytes/);
    await assert.rejects(r.skip(51, "more"), /header limit/);
  });
});

Deno.test("BoundedReader: a file that shrinks while it is read fails instead of spinning", async () => {
  await withFile(bytes, async (file) => {
    const r = new BoundedReader(file, { fileSize: 5000, budget: 5000, label: "f", chunkBytes: 64 });
    await assert.rejects(r.ensure(2000, "the thing"), /the file ended early while reading the thing/);
  });
});
