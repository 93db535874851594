import assert from "node:assert/strict";
import {
  fileTypeName,
  GGML_TYPES,
  ggmlTypeName,
  LLAMA_FILE_TYPES,
  tensorBytes,
  tensorElements,
} from "./ggml_types.ts";

Deno.test("GGML_TYPES: block and type sizes equal llama.cpp's (node-llama-cpp bindings), for every code", async () => {
  const { getLlama, GgmlType, LlamaLogLevel } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
  // deno-lint-ignore no-explicit-any
  const bindings = (llama as any)._bindings as {
    getTypeSizeForGgmlType(t: number): number | undefined;
    getBlockSizeForGgmlType(t: number): number | undefined;
  };
  let known = 0;
  for (let code = 0; code < 64; code++) {
    const typeSize = bindings.getTypeSizeForGgmlType(code) ?? 0;
    const blockSize = bindings.getBlockSizeForGgmlType(code) ?? 0;
    const ours = GGML_TYPES.get(code);
    if (blockSize === 0) {
      assert.equal(ours, undefined, `code ${code} is not a usable type in llama.cpp`);
      continue;
    }
    known++;
    assert.deepEqual(ours, { name: GgmlType[code], blockSize, typeSize }, `code ${code}`);
  }
  assert.equal(known, GGML_TYPES.size);
  await llama.dispose();
});

Deno.test("LLAMA_FILE_TYPES: node-llama-cpp's GgufFileType names without MOSTLY_/ALL_", async () => {
  const { GgufFileType } = await import("node-llama-cpp");
  for (const [name, code] of Object.entries(GgufFileType)) {
    if (typeof code !== "number") continue;
    assert.equal(LLAMA_FILE_TYPES.get(code), name.replace(/^(MOSTLY|ALL)_/, ""), name);
  }
  assert.equal(fileTypeName(15), "Q4_K_M");
  assert.equal(fileTypeName(1024 + 7), "Q8_0", "the guessed flag is ignored");
  assert.equal(fileTypeName(999), undefined);
});

Deno.test("tensorElements, tensorBytes, ggmlTypeName", () => {
  assert.equal(tensorElements({ dims: [] }), 1);
  assert.equal(tensorElements({ dims: [64, 512] }), 32768);
  assert.equal(tensorBytes({ dims: [64, 512], type: 0 }), 131072);
  assert.equal(tensorBytes({ dims: [4096, 4096], type: 12 }), 4096 * 4096 / 256 * 144);
  assert.equal(tensorBytes({ dims: [4096, 11008], type: 8 }), 4096 * 11008 / 32 * 34);
  assert.throws(() => tensorBytes({ dims: [32], type: 4 }), /unknown ggml type 4/);
  assert.equal(ggmlTypeName(30), "BF16");
  assert.equal(ggmlTypeName(77), "type 77");
});
