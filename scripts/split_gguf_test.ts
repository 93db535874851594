import assert from "node:assert/strict";
import { withTempDir } from "../tests/support/temp_dir.ts";
import { createLlamaCppBackend } from "../src/inference/mod.ts";
import { readGgufHeader } from "../src/gguf/mod.ts";
import { shardPath, splitGguf } from "./split_gguf.ts";

const STORIES = "tests/fixtures/stories260K.gguf";

Deno.test("shardPath: llama.cpp's NAME-0000I-of-0000N.gguf", () => {
  assert.equal(shardPath("/m/x", 0, 3), "/m/x-00001-of-00003.gguf");
  assert.equal(shardPath("x", 11, 12), "x-00012-of-00012.gguf");
});

Deno.test("splitGguf: llama.cpp loads the shards from shard 1 and writes the same text as the whole file", async () => {
  await withTempDir(async (dir) => {
    const shards = await splitGguf(STORIES, { outPrefix: `${dir}/stories`, count: 3 });
    assert.deepEqual(shards.map((s) => s.path), [0, 1, 2].map((i) => shardPath(`${dir}/stories`, i, 3)));
    const whole = await readGgufHeader(STORIES);
    assert.equal(shards.reduce((n, s) => n + s.tensors, 0), whole.tensors.length);
    const second = await readGgufHeader(shards[1]!.path);
    assert.deepEqual([...second.metadata.keys()].sort(), [
      "general.alignment",
      "split.count",
      "split.no",
      "split.tensors.count",
    ]);
    const backend = createLlamaCppBackend();
    try {
      const text = async (path: string) => {
        const session = await backend.load(path, { threads: 1, gpu: "off", contextSize: 256 });
        const { text } = await session.generate("Once upon a time", { maxTokens: 24, temperature: 0 }).result;
        await session.close();
        return text;
      };
      const expected = await text(STORIES);
      assert.ok(expected.length > 20);
      assert.equal(await text(shards[0]!.path), expected);
      // The other shards are really read: without the last one, shard 1 does not load, and the
      // missing shard is named.
      await Deno.remove(shards[2]!.path);
      await assert.rejects(
        text(shards[0]!.path),
        (e: Error & { code?: string }) => e.code === "FILE_NOT_FOUND" && e.message.includes("00003-of-00003"),
      );
    } finally {
      await backend.close();
    }
  }, { prefix: "lode-split-" });
});

Deno.test("splitGguf: a shard count the tensors cannot fill is refused", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(splitGguf(STORIES, { outPrefix: `${dir}/s`, count: 1 }), /--shards must be 2\.\./);
    await assert.rejects(splitGguf(STORIES, { outPrefix: `${dir}/s`, count: 10_000 }), /--shards must be/);
  }, { prefix: "lode-split-" });
});
