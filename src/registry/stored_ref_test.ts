import assert from "node:assert/strict";
import type { Manifest } from "../store/manifest.ts";
import { parseRef } from "./reference.ts";
import { isPinnedCommit, storedModelFor } from "./stored_ref.ts";

const COMMIT = "da0255ffe716b65c463e333792d5c82594886e77";
const HEX = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

function manifest(name: string, source: Partial<Manifest["source"]>, blob = HEX): Manifest {
  return {
    schema_version: 1,
    name,
    format: "gguf",
    blob: `sha256:${blob}`,
    size_bytes: 1,
    source: { registry: "huggingface", repo: "o/r", revision: COMMIT, filename: `${name}.gguf`, ...source },
    produced_by: "lode",
    produced_at: "2026-01-01T00:00:00Z",
  };
}

const STORE: Manifest[] = [
  manifest("r-Q8_0", {}),
  manifest("r-Q4_K_M", {}),
  manifest("renamed", { filename: "sub/x-Q5_K_M.gguf" }),
  manifest("stories260K", {
    registry: "127.0.0.1:8443",
    repo: "",
    revision: "",
    url: "https://h/m/stories260K.gguf",
  }),
];
const find = (ref: string) => storedModelFor(parseRef(ref), STORE);

Deno.test("isPinnedCommit: 40 hex digits only", () => {
  assert.equal(isPinnedCommit(COMMIT), true);
  assert.equal(isPinnedCommit(COMMIT.toUpperCase()), true);
  assert.equal(isPinnedCommit(COMMIT.slice(0, 12)), false);
  assert.equal(isPinnedCommit("main"), false);
  assert.equal(isPinnedCommit(undefined), false);
});

Deno.test("storedModelFor hf: only a reference pinned to the recorded commit, and its file", () => {
  assert.equal(find(`hf:o/r:Q8_0@${COMMIT}`), "r-Q8_0");
  assert.equal(find(`hf:O/R:q8_0@${COMMIT.toUpperCase()}`), "r-Q8_0");
  assert.equal(find(`hf:o/r@${COMMIT}`), "r-Q4_K_M", "no quant: the default one");
  assert.equal(find(`hf:o/r/r-Q8_0.gguf@${COMMIT}`), "r-Q8_0");
  assert.equal(find("hf:o/r:Q8_0"), null, "unpinned: the Hub decides");
  assert.equal(find("hf:o/r:Q8_0@main"), null);
  assert.equal(find(`hf:o/r:Q8_0@${"0".repeat(40)}`), null, "another commit");
  assert.equal(find(`hf:o/other:Q8_0@${COMMIT}`), null);
  assert.equal(find(`hf:o/r:Q6_K@${COMMIT}`), null);
  assert.equal(find(`hf:o/r:Q5_K_M@${COMMIT}`), "renamed", "stored under --name: the same file all the same");
});

Deno.test("storedModelFor: a file held under several names is the registry's name, else the first name", () => {
  const twice = [manifest("zz-mine", {}), manifest("aa-mine", {}), ...STORE];
  // r-Q8_0's source is o/r@COMMIT r-Q8_0.gguf; the other two hold o/r@COMMIT {name}.gguf, so give them that file.
  for (const m of twice.slice(0, 2)) m.source.filename = "r-Q8_0.gguf";
  assert.equal(storedModelFor(parseRef(`hf:o/r:Q8_0@${COMMIT}`), twice), "r-Q8_0");
  const withoutUsual = twice.filter((m) => m.name !== "r-Q8_0");
  assert.equal(storedModelFor(parseRef(`hf:o/r:Q8_0@${COMMIT}`), withoutUsual), "aa-mine");
  // A URL pulled under --name: found by its digest (pinned) or by the very URL (unpinned).
  const named = [
    manifest("tiny", { registry: "h", repo: "", revision: "", url: "https://h/m/stories260K.gguf" }),
  ];
  assert.equal(storedModelFor(parseRef(`https://h/m/stories260K.gguf#sha256=${HEX}`), named), "tiny");
  assert.equal(storedModelFor(parseRef("https://h/m/stories260K.gguf"), named), "tiny");
  assert.equal(storedModelFor(parseRef("https://mirror/m/stories260K.gguf"), named), null);
});

Deno.test("storedModelFor URL: its name, when the digest (pinned) or the URL (unpinned) matches; names; files", () => {
  assert.equal(find(`https://h/m/stories260K.gguf#sha256=${HEX}`), "stories260K");
  assert.equal(find(`https://h/m/stories260K.gguf#sha256=${"1".repeat(64)}`), null);
  assert.equal(find("https://h/m/stories260K.gguf"), "stories260K");
  assert.equal(find("https://mirror/m/stories260K.gguf"), null, "unpinned from another URL");
  assert.equal(find("https://h/m/other.gguf"), null);
  assert.equal(find("stories260K"), "stories260K");
  assert.equal(find("nope"), null);
  assert.equal(find("file:/tmp/stories260K.gguf"), null);
});
