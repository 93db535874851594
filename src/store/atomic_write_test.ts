import assert from "node:assert/strict";
import { writeAll, writeFileAtomic } from "./atomic_write.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";

const withDir = (body: (dir: string) => Promise<void>) => withTempDir(body, { prefix: "lode-atomic-" });

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("writeFileAtomic creates missing directories and writes the text", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/a/b/m.json`;
    await writeFileAtomic(path, '{"x":1}\n');
    assert.equal(await Deno.readTextFile(path), '{"x":1}\n');
    assert.deepEqual(await names(`${dir}/a/b`), ["m.json"]);
  });
});

Deno.test("writeFileAtomic replaces an existing file whole and leaves no temp file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/m.json`;
    await Deno.writeTextFile(path, "x".repeat(10_000));
    await writeFileAtomic(path, "short");
    assert.equal(await Deno.readTextFile(path), "short");
    await writeFileAtomic(path, "");
    assert.equal(await Deno.readTextFile(path), "");
    assert.deepEqual(await names(dir), ["m.json"]);
  });
});

Deno.test("writeFileAtomic: concurrent writers leave one complete version, never a mix", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/m.json`;
    const versions = ["a", "b", "c", "d"].map((c) => c.repeat(100_000));
    await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
    assert.ok(versions.includes(await Deno.readTextFile(path)));
    assert.deepEqual(await names(dir), ["m.json"]);
  });
});

Deno.test("writeFileAtomic: a failed write removes its temp file and leaves the old content", async () => {
  await withDir(async (dir) => {
    // The target is a directory: the temp file is written, the rename fails.
    await Deno.mkdir(`${dir}/m.json/inner`, { recursive: true });
    await assert.rejects(writeFileAtomic(`${dir}/m.json`, "new"));
    assert.ok((await Deno.stat(`${dir}/m.json`)).isDirectory);
    assert.deepEqual(await names(dir), ["m.json"], "no .tmp-* file is left behind");
  });
});

Deno.test("writeAll writes every byte", async () => {
  await withDir(async (dir) => {
    const bytes = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    {
      using file = await Deno.open(`${dir}/f`, { write: true, create: true });
      await writeAll(file, bytes);
      await writeAll(file, new Uint8Array());
    }
    assert.deepEqual(await Deno.readFile(`${dir}/f`), bytes);
  });
});
