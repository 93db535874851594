import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { availableQuants, type HfFile, isMmproj, quantOf, selectHfFiles, shardOf } from "./hf_files.ts";

const f = (path: string, size = 10): HfFile => ({ path, size, sha256: "ab".repeat(32) });

function notFound(fn: () => unknown): LodeError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LodeError && e.code === "MODEL_NOT_FOUND", String(e));
    return e;
  }
  assert.fail("expected MODEL_NOT_FOUND");
}

Deno.test("quantOf: the last quant-like token of the name, else the directory", () => {
  assert.equal(quantOf("Qwen3-0.6B-Q8_0.gguf"), "Q8_0");
  assert.equal(quantOf("llama-3.2-1b-instruct.q4_k_m.gguf"), "Q4_K_M");
  assert.equal(quantOf("gemma-3-4b-it-UD-Q4_K_XL.gguf"), "UD-Q4_K_XL");
  assert.equal(quantOf("m-IQ2_XXS.gguf"), "IQ2_XXS");
  assert.equal(quantOf("m-bf16.gguf"), "BF16");
  assert.equal(quantOf("m-F16-00001-of-00003.gguf"), "F16");
  assert.equal(quantOf("Q4_K_M/model-00001-of-00002.gguf"), "Q4_K_M");
  assert.equal(quantOf("Qwen3-0.6B.gguf"), null);
  assert.equal(quantOf("stories260K.gguf"), null);
});

Deno.test("shardOf and isMmproj", () => {
  assert.deepEqual(shardOf("d/m-Q4_K_M-00002-of-00003.gguf"), { prefix: "d/m-Q4_K_M", index: 2, count: 3 });
  assert.equal(shardOf("m-00004-of-00003.gguf"), null);
  assert.equal(shardOf("m-00000-of-00003.gguf"), null);
  assert.equal(shardOf("m.gguf"), null);
  assert.ok(isMmproj("mmproj-model-f16.gguf"));
  assert.ok(isMmproj("x/Model-MMPROJ-F16.gguf"));
  assert.ok(!isMmproj("mmproj/model.gguf"));
});

const REPO = [
  f(".gitattributes"),
  f("README.md"),
  f("m-Q8_0.gguf"),
  f("m-Q4_K_M.gguf"),
  f("Q6_K/m-Q6_K-00002-of-00002.gguf"),
  f("Q6_K/m-Q6_K-00001-of-00002.gguf"),
  f("mmproj-m-F32.gguf"),
  f("mmproj-m-F16.gguf"),
];

Deno.test("selectHfFiles: a quant, case-insensitively, with the preferred mmproj", () => {
  const s = selectHfFiles(REPO, { quant: "q8_0" });
  assert.deepEqual(s.model.map((x) => x.path), ["m-Q8_0.gguf"]);
  assert.equal(s.quant, "Q8_0");
  assert.equal(s.mmproj?.path, "mmproj-m-F16.gguf");
});

Deno.test("selectHfFiles: split shards come together, in order", () => {
  const s = selectHfFiles(REPO, { quant: "Q6_K" });
  assert.deepEqual(s.model.map((x) => x.path), [
    "Q6_K/m-Q6_K-00001-of-00002.gguf",
    "Q6_K/m-Q6_K-00002-of-00002.gguf",
  ]);
});

Deno.test("selectHfFiles: no quant → Q4_K_M, else the first model by path", () => {
  assert.deepEqual(selectHfFiles(REPO, {}).model.map((x) => x.path), ["m-Q4_K_M.gguf"]);
  const noDefault = REPO.filter((x) => !x.path.includes("Q4_K_M"));
  assert.deepEqual(selectHfFiles(noDefault, {}).model.map((x) => x.path), [
    "Q6_K/m-Q6_K-00001-of-00002.gguf",
    "Q6_K/m-Q6_K-00002-of-00002.gguf",
  ]);
  // The mmproj with the model's own quant wins.
  const own = selectHfFiles([f("m-F32.gguf"), f("mmproj-F16.gguf"), f("mmproj-F32.gguf")], {});
  assert.equal(own.mmproj?.path, "mmproj-F32.gguf");
});

Deno.test("selectHfFiles: a path names one file (or its whole shard set), without mmproj", () => {
  assert.deepEqual(selectHfFiles(REPO, { path: "m-Q8_0.gguf" }), { model: [REPO[2]!], quant: "Q8_0" });
  const shards = selectHfFiles(REPO, { path: "Q6_K/m-Q6_K-00002-of-00002.gguf" });
  assert.equal(shards.model.length, 2);
  assert.equal(shards.mmproj, undefined);
});

Deno.test("selectHfFiles: a missing quant lists the available ones", () => {
  const e = notFound(() => selectHfFiles(REPO, { quant: "Q2_K", repo: "o/r", revision: "main" }));
  assert.match(e.message, /o\/r at main has no Q2_K file/);
  assert.deepEqual(e.details.available, ["Q4_K_M", "Q6_K", "Q8_0"]);
  assert.match(e.hint, /Available quants: Q4_K_M, Q6_K, Q8_0/);
  assert.deepEqual(availableQuants(REPO), ["Q4_K_M", "Q6_K", "Q8_0"]);
  const untagged = notFound(() => selectHfFiles([f("stories260K.gguf")], { quant: "Q8_0" }));
  assert.match(untagged.hint, /files without a quant tag: stories260K.gguf/);
});

Deno.test("selectHfFiles: no GGUF, a missing path, a missing shard", () => {
  assert.match(notFound(() => selectHfFiles([f("README.md")], {})).message, /no \.gguf files/);
  assert.match(notFound(() => selectHfFiles(REPO, { path: "nope.gguf" })).hint, /m-Q8_0.gguf/);
  const gap = [f("m-Q4_0-00001-of-00003.gguf"), f("m-Q4_0-00003-of-00003.gguf")];
  assert.match(notFound(() => selectHfFiles(gap, { quant: "Q4_0" })).message, /shard 2 of 3/);
});
