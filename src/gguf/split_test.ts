import assert from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import { readGgufHeader } from "./read_header.ts";
import { inspectGgufModel, readGgufModelHeader, splitPaths } from "./split.ts";

Deno.test("splitPaths: llama.cpp's shard names, or undefined", () => {
  assert.deepEqual(splitPaths("/m/x-00002-of-00003.gguf", 3), [
    "/m/x-00001-of-00003.gguf",
    "/m/x-00002-of-00003.gguf",
    "/m/x-00003-of-00003.gguf",
  ]);
  assert.equal(splitPaths("/m/x-00001-of-00003.gguf", 2), undefined, "count must match the name");
  assert.equal(splitPaths("/m/x.gguf", 2), undefined);
});

Deno.test("inspectGgufModel: a single file is inspectGguf's summary", async () => {
  const s = await inspectGgufModel(
    new URL("../../tests/fixtures/stories260K.gguf", import.meta.url).pathname,
  );
  assert.equal(s.splitCount, 1);
  assert.equal(s.parameters, 292_800);
});

Deno.test("readGgufModelHeader: a split model's tensors and bytes from every shard; a bad name or a missing shard fails", async () => {
  const { splitGguf } = await import("../../scripts/split_gguf.ts");
  const fixture = new URL("../../tests/fixtures/stories260K.gguf", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "lode-split-test-" });
  try {
    const whole = await readGgufHeader(fixture);
    const shards = await splitGguf(fixture, { outPrefix: `${dir}/s`, count: 3 });
    const model = await readGgufModelHeader(shards[0]!.path);
    assert.deepEqual(model.tensors.map((t) => t.name), whole.tensors.map((t) => t.name));
    assert.equal(model.fileSize, shards.reduce((n, s) => n + s.sizeBytes, 0));
    const summary = await inspectGgufModel(shards[0]!.path);
    assert.equal(summary.parameters, 292_800);
    assert.equal(summary.tensorCount, whole.tensors.length);

    await Deno.rename(shards[0]!.path, `${dir}/renamed.gguf`);
    await assert.rejects(readGgufModelHeader(`${dir}/renamed.gguf`), (e) => isLodeError(e, "GGUF_INVALID"));
    await Deno.rename(`${dir}/renamed.gguf`, shards[0]!.path);
    await Deno.remove(shards[2]!.path);
    await assert.rejects(
      readGgufModelHeader(shards[0]!.path),
      (e) => isLodeError(e, "FILE_NOT_FOUND") && e.details.path === shards[2]!.path,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
