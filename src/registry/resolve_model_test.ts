import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { ModelStore } from "../store/mod.ts";
import { parseRef } from "./reference.ts";
import type { RegistryContext } from "./registry.ts";
import { registryFor, resolveModel } from "./resolve_model.ts";

const SHA = "ab".repeat(32);

async function context(): Promise<RegistryContext> {
  const root = await Deno.makeTempDir();
  return {
    settings: {},
    store: await ModelStore.open(root),
    get: () => Promise.reject(new Error("no network in this test")),
  };
}

function hasCode(code: string) {
  return (e: unknown) => e instanceof LodeError && e.code === code;
}

Deno.test("resolveModel: an https URL becomes a one-file plan pinned by its fragment", async () => {
  const plan = await resolveModel(parseRef(`https://h.example/a/m.Q4.gguf#sha256=${SHA}`), await context());
  assert.equal(plan.name, "m.Q4");
  assert.equal(plan.reference, `https://h.example/a/m.Q4.gguf#sha256=${SHA}`);
  assert.deepEqual(plan.files, [{
    role: "model",
    filename: "m.Q4.gguf",
    url: "https://h.example/a/m.Q4.gguf",
    sha256: SHA,
  }]);
});

Deno.test("resolveModel: --sha256 that disagrees with the fragment is a usage error", async () => {
  const ref = parseRef(`https://h.example/m.gguf#sha256=${SHA}`);
  await assert.rejects(
    () => resolveModel(ref, { settings: {} } as RegistryContext, { sha256: "cd".repeat(32) }),
    hasCode("USAGE"),
  );
});

Deno.test("resolveModel: a name not in the store is MODEL_NOT_FOUND", async () => {
  await assert.rejects(
    async () => resolveModel(parseRef("nothing-here"), await context()),
    hasCode("MODEL_NOT_FOUND"),
  );
});

Deno.test("registryFor: a file: reference is imported, not pulled", () => {
  assert.throws(() => registryFor(parseRef("file:/tmp/m.gguf")), hasCode("USAGE"));
});

Deno.test("resolveModel: --mirror URLs join a pinned URL reference's file, in order", async () => {
  const plan = await resolveModel(parseRef(`https://h.example/m.gguf#sha256=${SHA}`), await context(), {
    mirrors: ["https://b.example/x/m.gguf#frag", "http://127.0.0.1:8080/m.gguf"],
  });
  assert.deepEqual(plan.files[0]!.mirrors, ["https://b.example/x/m.gguf", "http://127.0.0.1:8080/m.gguf"]);
});

Deno.test("resolveModel: --mirror needs a pinned URL reference and well-formed URLs", async () => {
  const ctx = await context();
  const mirrors = ["https://b.example/m.gguf"];
  await assert.rejects(
    () => resolveModel(parseRef("https://h.example/m.gguf"), ctx, { mirrors }),
    hasCode("USAGE"),
  );
  await assert.rejects(() => resolveModel(parseRef("hf:o/r:Q4_K_M"), ctx, { mirrors }), hasCode("USAGE"));
  const pinned = parseRef(`https://h.example/m.gguf#sha256=${SHA}`);
  for (const bad of ["not a url", "ftp://b.example/m.gguf", "https://u:p@b.example/m.gguf"]) {
    await assert.rejects(() => resolveModel(pinned, ctx, { mirrors: [bad] }), hasCode("USAGE"), bad);
  }
});
