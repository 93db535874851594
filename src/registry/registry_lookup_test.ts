import assert from "node:assert/strict";
import { huggingFaceRegistry } from "./huggingface.ts";
import type { Registry } from "./registry.ts";
import { lookUpReference } from "./registry_lookup.ts";
import { BUILTIN_REGISTRIES } from "./resolve_model.ts";

/** A registry plugin's bridge as the composition root gives it: it claims `SCHEME:REST` of `mirror`. */
const mirror: Registry = {
  id: "mirror_registry",
  schemes: ["mirror"],
  claims: (ref) => ref.kind === "plugin" && ref.scheme === "mirror",
  resolve: () => Promise.reject(new Error("not in this test")),
};

/** A lookup of a table holding the Hugging Face registry (`hf`) and `mirror`; records the schemes asked. */
function table(asked: string[]) {
  return (scheme: string) => {
    asked.push(scheme);
    return Promise.resolve(scheme === "hf" ? huggingFaceRegistry : scheme === "mirror" ? mirror : undefined);
  };
}

Deno.test("lookUpReference: the scheme looked up once; a plugin's SCHEME:REST is its reference, first in line", async () => {
  const asked: string[] = [];
  const found = await lookUpReference("mirror:tiny@v1", table(asked));
  assert.deepEqual(found.ref, {
    kind: "plugin",
    scheme: "mirror",
    body: "tiny@v1",
    reference: "mirror:tiny@v1",
  });
  assert.equal(found.registries[0], mirror);
  assert.deepEqual(asked, ["mirror"]);
});

Deno.test("lookUpReference: a built-in's scheme parses as its form; none claiming the scheme leaves a store name", async () => {
  const asked: string[] = [];
  const hf = await lookUpReference("hf:o/r:q8_0", table(asked));
  assert.deepEqual(hf.ref, { kind: "hf", repo: "o/r", quant: "Q8_0" });
  assert.equal(hf.registries[0], huggingFaceRegistry);
  assert.equal(hf.registries.length, BUILTIN_REGISTRIES.length);
  const name = await lookUpReference("qwen:q8", table(asked));
  assert.deepEqual(name.ref, { kind: "name", name: "qwen:q8" });
  assert.equal(name.registries, BUILTIN_REGISTRIES);
  assert.deepEqual(asked, ["hf", "qwen"]);
});

Deno.test("lookUpReference: a reference without a scheme asks nothing; a parsed plugin reference looks its scheme up", async () => {
  const asked: string[] = [];
  assert.deepEqual((await lookUpReference("stories260K", table(asked))).ref, {
    kind: "name",
    name: "stories260K",
  });
  assert.equal((await lookUpReference("hf.co/o/r", table(asked))).ref.kind, "hf");
  const ref = { kind: "plugin" as const, scheme: "mirror", body: "tiny", reference: "mirror:tiny" };
  assert.equal((await lookUpReference(ref, table(asked))).registries[0], mirror);
  assert.deepEqual(asked, ["mirror"]);
  assert.equal(
    (await lookUpReference("mirror:tiny")).ref.kind,
    "name",
    "without a table: the built-ins alone",
  );
});
