import assert from "node:assert/strict";
import { basename, dirname } from "node:path";
import { StoreLayout } from "./layout.ts";
import { quarantineFile } from "./quarantine.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";

const EXPECTED = "ab".repeat(32);
const ACTUAL = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

const withDir = (body: (dir: string) => Promise<void>) => withTempDir(body, { prefix: "lode-quarantine-" });

Deno.test("quarantineFile moves the bytes into locks/quarantine/ and writes a record beside them", async () => {
  await withDir(async (dir) => {
    const layout = new StoreLayout(dir);
    const bad = `${dir}/blobs/sha256/ab/.partial-${EXPECTED}/data.tmp`;
    await Deno.mkdir(dirname(bad), { recursive: true });
    await Deno.writeTextFile(bad, "hello world");
    const before = Date.now();
    const { path, recordPath } = await quarantineFile(layout, bad, {
      expected: EXPECTED,
      actual: ACTUAL,
      source: "https://example.com/m.gguf",
      reason: "digest_mismatch",
      name: "m",
    });
    assert.equal(dirname(path), layout.quarantineDir);
    assert.equal(dirname(recordPath), layout.quarantineDir);
    assert.ok(basename(path).startsWith(ACTUAL.slice(0, 16)), path);
    assert.ok(path.endsWith(".data"));
    assert.equal(recordPath, path.replace(/\.data$/, ".json"));
    await assert.rejects(Deno.stat(bad), Deno.errors.NotFound);
    assert.equal(await Deno.readTextFile(path), "hello world");
    const record = JSON.parse(await Deno.readTextFile(recordPath));
    assert.equal(record.expected, EXPECTED);
    assert.equal(record.actual, ACTUAL);
    assert.equal(record.source, "https://example.com/m.gguf");
    assert.equal(record.reason, "digest_mismatch");
    assert.equal(record.name, "m");
    assert.equal(record.original_path, bad);
    const at = Date.parse(record.quarantined_at);
    assert.ok(at >= before - 1000 && at <= Date.now() + 1000, record.quarantined_at);
  });
});

Deno.test("quarantineFile never overwrites: the same bad bytes twice give two entries", async () => {
  await withDir(async (dir) => {
    const layout = new StoreLayout(dir);
    const paths = new Set<string>();
    for (let i = 0; i < 2; i++) {
      await Deno.writeTextFile(`${dir}/bad`, `copy ${i}`);
      const q = await quarantineFile(layout, `${dir}/bad`, {
        expected: EXPECTED,
        actual: ACTUAL,
        source: "store",
        reason: "corrupt_on_disk",
      });
      paths.add(q.path);
    }
    assert.equal(paths.size, 2);
    const entries: string[] = [];
    for await (const e of Deno.readDir(layout.quarantineDir)) entries.push(e.name);
    assert.equal(entries.length, 4);
    const contents = await Promise.all([...paths].map((p) => Deno.readTextFile(p)));
    assert.deepEqual(contents.sort(), ["copy 0", "copy 1"]);
  });
});
