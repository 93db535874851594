import assert from "node:assert/strict";
import { inspectGgufModel, splitPaths } from "./split.ts";

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
