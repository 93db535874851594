import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { withTempDir } from "../tests/support/temp_dir.ts";
import { ModelFileWriter } from "./model_file_writer.ts";

Deno.test("ModelFileWriter: bytes and generated words land in order, across buffer swaps, and the digest is the file's", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/out.bin`;
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    const w = new ModelFileWriter(file);
    const head = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const big = 40 * 1024 * 1024; // more than two 16 MiB buffers: both swap paths run
    try {
      await w.bytes(head);
      await w.generate(big, (words, at, count) => {
        for (let i = 0; i < count; i++) words[at + i] = (at + i) >>> 0;
      });
      await w.close();
    } finally {
      file.close();
    }
    const bytes = await Deno.readFile(path);
    assert.equal(bytes.byteLength, head.byteLength + big);
    assert.deepEqual(bytes.subarray(0, 8), head);
    assert.equal(w.digest(), createHash("sha256").update(bytes).digest("hex"));
  }, { prefix: "lode-model-writer-" });
});
