import assert from "node:assert/strict";
import { isLodeError, LodeError } from "../../errors.ts";
import { ModelNames } from "./router_names.ts";

const store = {
  modelPathOf: (name: string) => {
    if (name.includes(":")) return Promise.reject(new LodeError("INVALID_REF", "not a name"));
    if (name === "stored" || name === "pulled") return Promise.resolve(`/m/${name}.gguf`);
    return Promise.reject(new LodeError("MODEL_NOT_FOUND", `no model named "${name}"`));
  },
};
const signal = new AbortController().signal;

Deno.test("ModelNames: a store name, a stored reference (no provider), a provided one (named before its pull); keyOf remembers", async () => {
  const provided: string[] = [];
  const names = new ModelNames({
    store,
    storedName: (ref) => Promise.resolve(ref === "hf:o/r@pinned" ? "stored" : null),
    provide: (ref, { onName }) => {
      provided.push(ref);
      if (ref !== "https://h/pulled.gguf") return Promise.resolve(null);
      onName?.("pulled");
      return Promise.resolve({ name: "pulled", path: "/m/pulled.gguf" });
    },
  });
  const seen: string[] = [];
  const resolve = (ref: string) =>
    names.resolve(ref, { signal, onStatus: () => {}, onName: (n) => seen.push(n) });
  assert.equal(await resolve("stored"), "/m/stored.gguf");
  assert.equal(await resolve("hf:o/r@pinned"), "/m/stored.gguf");
  assert.equal(await resolve("https://h/pulled.gguf"), "/m/pulled.gguf");
  assert.deepEqual(provided, ["https://h/pulled.gguf"], "the stored reference never reached the provider");
  assert.deepEqual(seen, ["stored", "stored", "pulled", "pulled"]);
  assert.equal(names.keyOf("hf:o/r@pinned"), "stored");
  assert.equal(names.keyOf("https://h/pulled.gguf"), "pulled");
  assert.equal(names.keyOf("stored"), "stored");
  assert.equal(await names.storedKeyOf("hf:o/r@pinned"), "stored");
  assert.equal(await names.storedKeyOf("hf:o/x"), "hf:o/x", "unknown to the store: itself");
  const missing = await resolve("nope").catch((e) => e);
  assert.ok(isLodeError(missing, "MODEL_NOT_FOUND"));
  const unknown = await resolve("hf:o/x").catch((e) => e);
  assert.ok(isLodeError(unknown, "INVALID_REF"), "nothing knows it: the store's error stands");
});

Deno.test("ModelNames: an onName that throws stops the resolution before the provider pulls", async () => {
  let pulled = false;
  const names = new ModelNames({
    store,
    provide: (_ref, { onName }) => {
      onName?.("pulled");
      pulled = true;
      return Promise.resolve({ name: "pulled", path: "/m/pulled.gguf" });
    },
  });
  const moved = new Error("moved");
  const error = await names.resolve("https://h/pulled.gguf", {
    signal,
    onStatus: () => {},
    onName: () => {
      throw moved;
    },
  }).catch((e) => e);
  assert.equal(error, moved);
  assert.equal(pulled, false);
});
