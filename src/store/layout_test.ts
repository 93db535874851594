import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { assertModelName, formatBlobRef, isSha256Hex, parseBlobRef, StoreLayout } from "./layout.ts";

const HEX = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

function isInvalidRef(e: unknown): boolean {
  return e instanceof LodeError && e.code === "INVALID_REF";
}

Deno.test("StoreLayout: directories of the shared layout", () => {
  const l = new StoreLayout("/srv/models");
  assert.equal(l.root, "/srv/models");
  assert.equal(l.blobsDir, "/srv/models/blobs/sha256");
  assert.equal(l.manifestsDir, "/srv/models/manifests");
  assert.equal(l.locksDir, "/srv/models/locks");
  assert.equal(l.quarantineDir, "/srv/models/locks/quarantine");
});

Deno.test("StoreLayout: blob, partial, manifest and lock paths are exactly the shared layout", () => {
  const l = new StoreLayout("/srv/models");
  assert.equal(l.blobDir(HEX), `/srv/models/blobs/sha256/27/${HEX}`);
  assert.equal(l.blobPath(HEX), `/srv/models/blobs/sha256/27/${HEX}/data`);
  assert.equal(l.partialDir(HEX), `/srv/models/blobs/sha256/27/.partial-${HEX}`);
  assert.equal(l.manifestPath("stories260K"), "/srv/models/manifests/stories260K.json");
  assert.equal(l.nameLockPath("stories260K"), "/srv/models/locks/stories260K.lock");
  assert.equal(l.blobLockPath(HEX), `/srv/models/locks/sha256-${HEX}.lock`);
  // Unpinned partials live in a shard no two-hex-digit blob prefix can collide with.
  assert.equal(l.unpinnedPartialDir(HEX), `/srv/models/blobs/sha256/un/.partial-${HEX}`);
});

Deno.test("StoreLayout: a trailing slash on the root does not change the paths", () => {
  assert.equal(new StoreLayout("/srv/models/").blobPath(HEX), `/srv/models/blobs/sha256/27/${HEX}/data`);
});

Deno.test("StoreLayout: blob paths refuse anything that is not lowercase 64-hex", () => {
  const l = new StoreLayout("/s");
  for (const bad of ["", "../../etc", HEX.toUpperCase(), HEX.slice(1), HEX + "0", "g".repeat(64)]) {
    assert.throws(() => l.blobPath(bad), LodeError, bad);
    assert.throws(() => l.partialDir(bad), LodeError, bad);
    assert.throws(() => l.blobLockPath(bad), LodeError, bad);
    assert.throws(() => l.unpinnedPartialDir(bad), LodeError, bad);
  }
});

Deno.test("assertModelName accepts letters, digits and . _ : - up to 128 characters", () => {
  for (
    const ok of ["a", "stories260K", "Qwen3-0.6B-Q8_0", "qwen:0.6b", "9lives", "a".repeat(128), "a..b"]
  ) {
    assert.equal(assertModelName(ok), ok);
    const l = new StoreLayout("/s");
    assert.equal(l.manifestPath(ok), `/s/manifests/${ok}.json`);
  }
});

Deno.test("invalid model names are rejected with INVALID_REF, by every path helper", () => {
  const l = new StoreLayout("/s");
  const bad = [
    "../x",
    "a/b",
    "",
    "hf:Qwen_Qwen3",
    "HF:x",
    "a".repeat(129),
    ".hidden",
    "..",
    "-x",
    "a b",
    "a\\b",
    "a\nb",
    "ü",
    "x\0",
  ];
  for (const name of bad) {
    assert.throws(() => assertModelName(name), isInvalidRef, JSON.stringify(name));
    assert.throws(() => l.manifestPath(name), isInvalidRef, JSON.stringify(name));
    assert.throws(() => l.nameLockPath(name), isInvalidRef, JSON.stringify(name));
  }
  try {
    assertModelName("a/b");
    assert.fail("unreachable");
  } catch (e) {
    assert.ok(e instanceof LodeError);
    assert.deepEqual(e.details, { name: "a/b" });
    assert.match(e.hint, /128/);
  }
});

Deno.test("isSha256Hex only takes 64 lowercase hex digits", () => {
  assert.equal(isSha256Hex(HEX), true);
  assert.equal(isSha256Hex(HEX.toUpperCase()), false);
  assert.equal(isSha256Hex(HEX.slice(0, 63)), false);
  assert.equal(isSha256Hex(`${HEX}\n`), false);
  assert.equal(isSha256Hex(""), false);
});

Deno.test("formatBlobRef / parseBlobRef round-trip and reject malformed refs", () => {
  assert.equal(formatBlobRef(HEX), `sha256:${HEX}`);
  assert.equal(parseBlobRef(formatBlobRef(HEX)), HEX);
  for (const bad of [HEX, `sha256:${HEX.toUpperCase()}`, `sha512:${HEX}`, `sha256:${HEX}0`, "sha256:", ""]) {
    assert.equal(parseBlobRef(bad), null, bad);
  }
});
