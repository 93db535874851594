import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { type ModelRef, nameFromFilename, parseRef, REF_FORMS } from "./reference.ts";

const HEX = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

function url(ref: ModelRef): Extract<ModelRef, { kind: "url" }> {
  assert.equal(ref.kind, "url");
  return ref as Extract<ModelRef, { kind: "url" }>;
}

/** Asserts `input` is INVALID_REF whose details and hint list every accepted form. */
function invalid(input: string, why?: RegExp): LodeError {
  let caught: unknown;
  try {
    parseRef(input);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof LodeError, `${JSON.stringify(input)}: ${caught ?? "accepted"}`);
  assert.equal(caught.code, "INVALID_REF", input);
  assert.equal(caught.exitCode, 2);
  assert.equal(caught.details.ref, input);
  assert.deepEqual(caught.details.accepted, REF_FORMS);
  for (const form of REF_FORMS) assert.ok(caught.hint.includes(form), caught.hint);
  if (why) assert.match(caught.message, why);
  return caught;
}

Deno.test("REF_FORMS lists the https, file: and name forms", () => {
  assert.equal(REF_FORMS.length, 3);
  assert.match(REF_FORMS[0]!, /^https:\/\/.*#sha256=HEX/);
  assert.match(REF_FORMS[1]!, /^file:/);
  assert.match(REF_FORMS[2]!, /^NAME/);
});

Deno.test("parseRef: an https URL names a file", () => {
  const r = url(parseRef("https://example.com/models/stories260K.gguf"));
  assert.equal(r.url.href, "https://example.com/models/stories260K.gguf");
  assert.equal(r.filename, "stories260K.gguf");
  assert.equal(r.sha256, undefined);
});

Deno.test("parseRef: #sha256= pins the digest, is removed from the URL, and uppercase is normalised", () => {
  const r = url(parseRef(`https://example.com/m.gguf#sha256=${HEX}`));
  assert.equal(r.sha256, HEX);
  assert.equal(r.url.href, "https://example.com/m.gguf");
  assert.equal(r.url.hash, "");
  const upper = url(parseRef(`https://example.com/m.gguf#sha256=${HEX.toUpperCase()}`));
  assert.equal(upper.sha256, HEX);
});

Deno.test("parseRef: query strings, ports, encoded names, http and case of the scheme", () => {
  const q = url(parseRef("https://example.com:8443/a/m.gguf?download=true"));
  assert.equal(q.filename, "m.gguf");
  assert.equal(q.url.search, "?download=true");
  assert.equal(q.url.port, "8443");
  assert.equal(url(parseRef("https://example.com/My%20Model.gguf")).filename, "My Model.gguf");
  // http parses here; the host policy decides whether it may be fetched.
  assert.equal(url(parseRef("http://127.0.0.1:8080/m.gguf")).url.protocol, "http:");
  assert.equal(url(parseRef("HTTPS://Example.COM/m.gguf")).url.href, "https://example.com/m.gguf");
  // Surrounding whitespace is ignored.
  assert.equal(url(parseRef("  https://example.com/m.gguf\n")).filename, "m.gguf");
});

Deno.test("parseRef: file: paths, absolute and relative", () => {
  assert.deepEqual(parseRef("file:/abs/m.gguf"), { kind: "file", path: "/abs/m.gguf" });
  assert.deepEqual(parseRef("file:///abs/m.gguf"), { kind: "file", path: "/abs/m.gguf" });
  assert.deepEqual(parseRef("file:./m.gguf"), { kind: "file", path: "./m.gguf" });
  assert.deepEqual(parseRef("file:models/m.gguf"), { kind: "file", path: "models/m.gguf" });
});

Deno.test("parseRef: a bare name is a model in the store", () => {
  assert.deepEqual(parseRef("stories260K"), { kind: "name", name: "stories260K" });
  assert.deepEqual(parseRef("Qwen3-0.6B-Q8_0"), { kind: "name", name: "Qwen3-0.6B-Q8_0" });
  assert.deepEqual(parseRef(" stories260K "), { kind: "name", name: "stories260K" });
});

Deno.test("parseRef: malformed references are INVALID_REF listing the accepted forms", () => {
  invalid("", /empty/);
  invalid("   ", /empty/);
  invalid("s3://bucket/m.gguf", /unknown scheme "s3"/);
  invalid("ftp://example.com/m.gguf", /unknown scheme "ftp"/);
  invalid("oci://registry/m:latest", /unknown scheme "oci"/);
  invalid("https://x/", /does not name a file/);
  invalid("https://example.com", /does not name a file/);
  invalid("https://example.com/dir/", /does not name a file/);
  invalid("https://", /not a valid URL/);
  invalid("http://", /not a valid URL/);
  invalid("https://exa mple.com/m.gguf", /not a valid URL/);
  invalid("https://example.com/m.gguf#sha256=", /fragment/);
  invalid(`https://example.com/m.gguf#sha256=${HEX.slice(1)}`, /fragment/);
  invalid(`https://example.com/m.gguf#sha256=${HEX}00`, /fragment/);
  invalid(`https://example.com/m.gguf#sha256=${"g".repeat(64)}`, /fragment/);
  invalid(`https://example.com/m.gguf#sha512=${HEX}`, /fragment/);
  invalid(`https://example.com/m.gguf#${HEX}`, /fragment/);
  invalid("https://example.com/m.gguf#latest", /fragment/);
  invalid("file:", /needs a path/);
  invalid("../x");
  invalid("a/b");
  invalid(".hidden");
  invalid("a".repeat(129));
  invalid("hf:Qwen/Qwen3-0.6B-GGUF");
  invalid("https:/example.com/m.gguf");
});

Deno.test("parseRef: a malformed percent-encoding in the file name is INVALID_REF, not a crash", () => {
  // decodeURIComponent throws URIError on "%A." — that must surface as a usage error.
  invalid("https://example.com/a%E0%A4%A.gguf");
  invalid("https://example.com/m%ZZ.gguf");
});

Deno.test("nameFromFilename: strips .gguf and keeps a valid store name", () => {
  assert.equal(nameFromFilename("Qwen3-0.6B-Q8_0.gguf"), "Qwen3-0.6B-Q8_0");
  assert.equal(nameFromFilename("stories260K.GGUF"), "stories260K");
  assert.equal(nameFromFilename("model.bin"), "model.bin");
  assert.equal(nameFromFilename("my model (1).gguf"), "my-model-1-");
  assert.equal(nameFromFilename("a/b.gguf"), "a-b");
  assert.equal(nameFromFilename(".hidden.gguf"), "hidden");
  assert.equal(nameFromFilename("-x-.gguf"), "x-");
  assert.equal(nameFromFilename("hf:q.gguf"), "hf:q");
});

Deno.test("nameFromFilename: nothing usable gives `model`; long names are cut to 128", () => {
  assert.equal(nameFromFilename("..gguf"), "model");
  assert.equal(nameFromFilename(".gguf"), "model");
  assert.equal(nameFromFilename(""), "model");
  assert.equal(nameFromFilename("模型.gguf"), "model");
  const long = nameFromFilename("a".repeat(300) + ".gguf");
  assert.equal(long, "a".repeat(128));
});

Deno.test("credentials in a URL and path separators in its file name are INVALID_REF", () => {
  for (
    const ref of [
      "https://user:pw@example.com/m.gguf",
      "https://x/..%2F..%2Fetc.gguf",
      "https://x/a%5Cb.gguf",
    ]
  ) {
    assert.throws(
      () => parseRef(ref),
      (e: unknown) => e instanceof LodeError && e.code === "INVALID_REF",
      ref,
    );
  }
});
