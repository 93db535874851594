import assert from "node:assert/strict";
import { WRITE_PIECE_BYTES, writeAllSync } from "./page_cache_write.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";

const withDir = (body: (dir: string) => Promise<void>) => withTempDir(body, { prefix: "lode-pcw-" });

function pattern(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + 7) & 0xff);
}

Deno.test("writeAllSync writes every byte at the file's position, no write over 32 KiB", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f.bin`;
    const bytes = pattern(3 * WRITE_PIECE_BYTES + 1234);
    const sizes: number[] = [];
    {
      using file = await Deno.open(path, { write: true, create: true });
      file.writeSync(new Uint8Array(10));
      writeAllSync({ writeSync: (b) => (sizes.push(b.length), file.writeSync(b)) }, bytes);
    }
    const back = await Deno.readFile(path);
    assert.equal(back.length, 10 + bytes.length);
    assert.deepEqual(back.subarray(10), bytes);
    assert.deepEqual(sizes, [WRITE_PIECE_BYTES, WRITE_PIECE_BYTES, WRITE_PIECE_BYTES, 1234]);
  });
});

Deno.test("writeAllSync goes on after a short write until every byte is in", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f.bin`;
    const bytes = pattern(50_000);
    {
      using file = await Deno.open(path, { write: true, create: true });
      // A writer that takes at most 999 bytes a call, as a pipe or a full disk's last blocks may.
      writeAllSync({ writeSync: (b) => file.writeSync(b.subarray(0, 999)) }, bytes);
    }
    assert.deepEqual(await Deno.readFile(path), bytes);
  });
});

Deno.test("writeAllSync of nothing writes nothing", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f.bin`;
    let calls = 0;
    {
      using file = await Deno.open(path, { write: true, create: true });
      writeAllSync({ writeSync: (b) => (calls++, file.writeSync(b)) }, new Uint8Array(0));
    }
    assert.equal(calls, 0);
    assert.equal((await Deno.stat(path)).size, 0);
  });
});
