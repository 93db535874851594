import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { type Manifest, ownFileName, parseManifest, serializeManifest } from "./manifest.ts";

const HEX = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const PATH = "/store/manifests/stories260K.json";

/**
 * A manifest as another tool sharing the store (inferd) writes it: registry derived from the URL host,
 * empty repo/revision, `inferd/<version>`, seconds-precision RFC 3339; none of lode's optional fields.
 */
const SEED_TEXT = `{
  "schema_version": 1,
  "name": "stories260K",
  "format": "gguf",
  "blob": "sha256:${HEX}",
  "size_bytes": 1185376,
  "license": "mit",
  "source": {
    "registry": "huggingface.co",
    "repo": "",
    "revision": "",
    "filename": "stories260K.gguf"
  },
  "produced_by": "inferd/0.2.1",
  "produced_at": "2025-01-02T03:04:05Z"
}`;

function seed(): Record<string, unknown> {
  return JSON.parse(SEED_TEXT);
}

function invalid(text: string): LodeError {
  try {
    parseManifest(text, PATH);
  } catch (e) {
    assert.ok(e instanceof LodeError, String(e));
    assert.equal(e.code, "MANIFEST_INVALID");
    assert.equal(e.details.file, PATH);
    assert.ok(e.message.includes(PATH), e.message);
    return e;
  }
  assert.fail(`parsed: ${text}`);
}

Deno.test("parseManifest: a manifest written by the seed, without lode's optional fields, parses", () => {
  const m = parseManifest(SEED_TEXT, PATH);
  assert.equal(m.schema_version, 1);
  assert.equal(m.name, "stories260K");
  assert.equal(m.format, "gguf");
  assert.equal(m.blob, `sha256:${HEX}`);
  assert.equal(m.size_bytes, 1185376);
  assert.equal(m.license, "mit");
  assert.deepEqual(m.source, {
    registry: "huggingface.co",
    repo: "",
    revision: "",
    filename: "stories260K.gguf",
  });
  assert.equal(m.produced_by, "inferd/0.2.1");
  assert.equal(m.produced_at, "2025-01-02T03:04:05Z");
  assert.equal(m.pinned, undefined);
  assert.equal(m.files, undefined);
});

Deno.test("parseManifest: license may be null or absent; lode's optional fields parse", () => {
  const nullLicense = { ...seed(), license: null };
  assert.equal(parseManifest(JSON.stringify(nullLicense), PATH).license, null);
  const { license: _, ...noLicense } = seed();
  assert.equal(parseManifest(JSON.stringify(noLicense), PATH).license, undefined);
  const lode = {
    ...seed(),
    pinned: false,
    source: { ...(seed().source as object), url: "https://example.com/m.gguf" },
    files: [{ role: "mmproj", filename: "mmproj.gguf", blob: `sha256:${"ab".repeat(32)}`, size_bytes: 3 }],
  };
  const m = parseManifest(JSON.stringify(lode), PATH);
  assert.equal(m.pinned, false);
  assert.equal(m.source.url, "https://example.com/m.gguf");
  assert.equal(m.files?.[0]?.role, "mmproj");
});

Deno.test("parseManifest: bad JSON is MANIFEST_INVALID naming the path", () => {
  const e = invalid("{ not json");
  assert.match(e.message, /not valid JSON/);
  invalid("");
});

Deno.test("parseManifest: each bad field is MANIFEST_INVALID naming the path and the field", () => {
  const cases: [string, Record<string, unknown>][] = [
    ["schema_version", { ...seed(), schema_version: 2 }],
    ["schema_version", { ...seed(), schema_version: "1" }],
    ["blob", { ...seed(), blob: HEX }],
    ["blob", { ...seed(), blob: `sha256:${HEX.toUpperCase()}` }],
    ["blob", { ...seed(), blob: `sha256:${HEX.slice(1)}` }],
    ["blob", { ...seed(), blob: `md5:${HEX}` }],
    ["size_bytes", { ...seed(), size_bytes: -1 }],
    ["size_bytes", { ...seed(), size_bytes: 1.5 }],
    ["name", { ...seed(), name: "" }],
    ["source.filename", { ...seed(), source: { registry: "hf", repo: "r", revision: "v" } }],
    ["produced_at", { ...seed(), produced_at: undefined }],
  ];
  for (const [field, value] of cases) {
    const e = invalid(JSON.stringify(value, null, 2));
    assert.equal(e.details.field, field, JSON.stringify(value));
    assert.ok(e.message.includes(field), e.message);
    assert.doesNotMatch(e.message, /invalid_type|"code"|\[\s*\{/);
    assert.equal(typeof e.details.line, "number", e.message);
  }
  const e = invalid(JSON.stringify({ ...seed(), size_bytes: "big" }, null, 2));
  assert.equal(
    e.message,
    `manifest ${PATH} is invalid at line 6, size_bytes: expected a number, found "big"`,
  );
  assert.deepEqual(e.details.issues, [
    {
      path: "size_bytes",
      line: 6,
      expected: "a number",
      received: '"big"',
      message: 'expected a number, found "big"',
    },
  ]);
  const missing = invalid(
    JSON.stringify({ ...seed(), source: { registry: "hf", repo: "r", revision: "v" } }),
  );
  assert.match(missing.message, /source\.filename: missing \(expected a string\)/);
  assert.equal(invalid("[]").details.field, "(root)");
  assert.equal(invalid("null").details.field, "(root)");
});

Deno.test("serializeManifest: round-trips through parseManifest, 2-space JSON with a trailing newline", () => {
  const m: Manifest = { ...parseManifest(SEED_TEXT, PATH), pinned: true };
  const text = serializeManifest(m);
  assert.ok(text.endsWith("}\n"));
  assert.match(text, /^\{\n {2}"schema_version": 1,\n/);
  assert.deepEqual(parseManifest(text, PATH), m);
  assert.equal(serializeManifest(parseManifest(text, PATH)), text);
  // That tool's text round-trips to the same object.
  assert.deepEqual(JSON.parse(serializeManifest(parseManifest(SEED_TEXT, PATH))), seed());
});

Deno.test("serializeManifest refuses to write an invalid manifest", () => {
  const m = { ...parseManifest(SEED_TEXT, PATH), blob: "sha256:nope" };
  assert.throws(() => serializeManifest(m));
});

Deno.test("ownFileName: a single file's source name for its blob path; nothing for a link or several files", () => {
  const m = parseManifest(SEED_TEXT, PATH);
  const named = { ...m, source: { ...m.source, filename: "sub/dir/parrot.words" } };
  assert.equal(ownFileName(named, "/store/blobs/sha256/ab/abcd/data"), "parrot.words");
  assert.equal(ownFileName(named, "/store/links/parrot/parrot.words"), undefined);
  assert.equal(ownFileName({ ...named, source: { ...m.source, filename: "dir/" } }, "/s/data"), undefined);
  const file = { role: "weights", filename: "a.gguf", blob: m.blob, size_bytes: 1 };
  assert.equal(
    ownFileName({ ...named, files: [file, { ...file, filename: "b.gguf" }] }, "/s/data"),
    undefined,
  );
});
