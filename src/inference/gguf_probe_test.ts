import assert from "node:assert/strict";
import { withTempDir } from "../../tests/support/temp_dir.ts";
import { splitGguf } from "../../scripts/split_gguf.ts";
import { probeGguf } from "./gguf_probe.ts";

const STORIES = "tests/fixtures/stories260K.gguf";

Deno.test("probeGguf: a GGUF model is ok, with its architecture", async () => {
  assert.deepEqual(await probeGguf(STORIES), { ok: true, format: "gguf", architecture: "llama" });
});

Deno.test("probeGguf: not a GGUF, truncated, missing, a later shard: ok false with the reason, never a rejection", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/notes.txt`, "hello, not a model\n");
    const bytes = await Deno.readFile(STORIES);
    await Deno.writeFile(`${dir}/cut.gguf`, bytes.subarray(0, 1000));
    const shards = await splitGguf(STORIES, { outPrefix: `${dir}/s`, count: 2 });
    const cases: [string, RegExp][] = [
      [`${dir}/notes.txt`, /magic|GGUF/i],
      [`${dir}/cut.gguf`, /truncat|ends|bytes/i],
      [`${dir}/missing.gguf`, /No such file|not found|missing/i],
      [shards[1]!.path, /shard 2 of 2 .*load the first shard/],
    ];
    for (const [path, reason] of cases) {
      const p = await probeGguf(path);
      assert.equal(p.ok, false, path);
      if (!p.ok) assert.match(p.reason, reason, path);
    }
    assert.deepEqual(await probeGguf(shards[0]!.path), { ok: true, format: "gguf", architecture: "llama" });
  }, { prefix: "lode-probe-" });
});
