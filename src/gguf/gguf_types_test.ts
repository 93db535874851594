import assert from "node:assert/strict";
import { alignUp, GGUF_MAGIC, GGUF_TYPE, scalarSize } from "./gguf_types.ts";

Deno.test("GGUF_MAGIC is the bytes GGUF; scalarSize; alignUp", () => {
  assert.equal(GGUF_MAGIC, new DataView(new TextEncoder().encode("GGUF").buffer).getUint32(0, true));
  assert.equal(scalarSize(GGUF_TYPE.BOOL), 1);
  assert.equal(scalarSize(GGUF_TYPE.INT16), 2);
  assert.equal(scalarSize(GGUF_TYPE.FLOAT32), 4);
  assert.equal(scalarSize(GGUF_TYPE.FLOAT64), 8);
  assert.equal(scalarSize(GGUF_TYPE.STRING), 8);
  assert.equal(scalarSize(GGUF_TYPE.ARRAY), undefined);
  assert.equal(scalarSize(13), undefined);
  assert.equal(alignUp(0, 32), 0);
  assert.equal(alignUp(33, 32), 64);
  assert.equal(alignUp(64, 32), 64);
});
