import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import {
  formatHfRef,
  type HfRef,
  mayBePluginRef,
  type ModelRef,
  nameFromFilename,
  parseRef,
  REF_FORMS,
} from "./reference.ts";

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

Deno.test("REF_FORMS lists the hf:, hf.co/, https, file:, oci:// and name forms", () => {
  assert.deepEqual(REF_FORMS.slice(0, 3), [
    "hf:OWNER/REPO[:QUANT][@REVISION]",
    "hf:OWNER/REPO/PATH/FILE.gguf[@REVISION]",
    "hf.co/OWNER/REPO[:QUANT][@REVISION]",
  ]);
  assert.match(REF_FORMS[3]!, /^https:\/\/.*#sha256=HEX/);
  assert.match(REF_FORMS[4]!, /^file:/);
  assert.match(REF_FORMS[5]!, /^oci:\/\/HOST\[:PORT\]\/REPO:TAG$/);
  assert.match(REF_FORMS[6]!, /^oci:\/\/HOST\[:PORT\]\/REPO@sha256:HEX$/);
  assert.match(REF_FORMS[7]!, /^NAME/);
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
  invalid("oci:registry/m:latest", /oci:\/\/HOST\/REPO:TAG \(with \/\/\)/);
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
  assert.equal(nameFromFilename("hf:q.gguf"), "hf-q");
  assert.equal(nameFromFilename("a:q.gguf"), "a:q");
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

function hf(input: string): HfRef {
  const ref = parseRef(input);
  assert.equal(ref.kind, "hf", input);
  return ref as HfRef;
}

Deno.test("parseRef: hf:OWNER/REPO with and without a quant and a revision", () => {
  assert.deepEqual(hf("hf:Qwen/Qwen3-0.6B-GGUF"), { kind: "hf", repo: "Qwen/Qwen3-0.6B-GGUF" });
  assert.deepEqual(hf("hf:Qwen/Qwen3-0.6B-GGUF:Q8_0"), {
    kind: "hf",
    repo: "Qwen/Qwen3-0.6B-GGUF",
    quant: "Q8_0",
  });
  assert.deepEqual(hf("hf:bartowski/Llama-3.2-1B-Instruct-GGUF:q4_k_m@main"), {
    kind: "hf",
    repo: "bartowski/Llama-3.2-1B-Instruct-GGUF",
    quant: "Q4_K_M",
    revision: "main",
  });
  assert.deepEqual(hf("hf:o/r@v1.0"), { kind: "hf", repo: "o/r", revision: "v1.0" });
  assert.deepEqual(hf("hf:o/r@refs/pr/3"), { kind: "hf", repo: "o/r", revision: "refs/pr/3" });
  const sha = "0123456789abcdef0123456789abcdef01234567";
  assert.equal(hf(`hf:o/r:F16@${sha}`).revision, sha);
  assert.equal(hf("hf:unsloth/gemma-3-4b-it-GGUF:UD-Q4_K_XL").quant, "UD-Q4_K_XL");
  assert.equal(hf("HF:o/r:iq2_xxs").quant, "IQ2_XXS");
  // ollama's default tag means "no quant": the registry's default applies.
  assert.deepEqual(hf("hf:o/r:latest"), { kind: "hf", repo: "o/r" });
  assert.deepEqual(hf("  hf:o/r:Q4_0 "), { kind: "hf", repo: "o/r", quant: "Q4_0" });
});

Deno.test("parseRef: hf.co/ and huggingface.co/ are the same as hf:", () => {
  assert.deepEqual(hf("hf.co/owner/repo:q4_k_m"), { kind: "hf", repo: "owner/repo", quant: "Q4_K_M" });
  assert.deepEqual(hf("huggingface.co/owner/repo:Q8_0@dev"), {
    kind: "hf",
    repo: "owner/repo",
    quant: "Q8_0",
    revision: "dev",
  });
  assert.deepEqual(hf("HF.CO/owner/repo"), { kind: "hf", repo: "owner/repo" });
  assert.deepEqual(hf("hf.co/o/r/sub/m-Q4_K_M.gguf"), { kind: "hf", repo: "o/r", path: "sub/m-Q4_K_M.gguf" });
});

Deno.test("parseRef: hf:OWNER/REPO/PATH/FILE.gguf names one file", () => {
  assert.deepEqual(hf("hf:o/r/m.gguf"), { kind: "hf", repo: "o/r", path: "m.gguf" });
  assert.deepEqual(hf("hf:o/r/Q4_K_M/m-Q4_K_M-00001-of-00002.gguf@v2"), {
    kind: "hf",
    repo: "o/r",
    path: "Q4_K_M/m-Q4_K_M-00001-of-00002.gguf",
    revision: "v2",
  });
  assert.equal(hf("hf:o/r/My Model.GGUF").path, "My Model.GGUF");
});

Deno.test("formatHfRef: the canonical hf: form", () => {
  assert.equal(formatHfRef(hf("hf.co/o/r:q8_0@main")), "hf:o/r:Q8_0@main");
  assert.equal(formatHfRef(hf("hf:o/r")), "hf:o/r");
  assert.equal(formatHfRef(hf("huggingface.co/o/r/a/b.gguf@x")), "hf:o/r/a/b.gguf@x");
});

Deno.test("parseRef: malformed Hugging Face references are INVALID_REF listing the accepted forms", () => {
  invalid("hf:", /owner is empty/);
  invalid("hf:/repo", /owner is empty/);
  invalid("hf:owner", /needs OWNER\/REPO/);
  invalid("hf:owner/", /repo name is empty/);
  invalid("hf.co/owner/", /repo name is empty/);
  invalid("hf:../repo", /not a valid Hugging Face owner/);
  invalid("hf:owner/..", /not a valid Hugging Face owner/);
  invalid("hf:own..er/repo", /not a valid Hugging Face owner/);
  invalid("hf:owner/re--po", /not a valid Hugging Face owner/);
  invalid("hf:-owner/repo", /not a valid Hugging Face owner/);
  invalid("hf:owner/repo-", /not a valid Hugging Face owner/);
  invalid("hf:ow ner/repo", /not a valid Hugging Face owner/);
  invalid(`hf:o/${"r".repeat(97)}`, /not a valid Hugging Face owner/);
  invalid("hf:o/r:", /followed by a quant/);
  invalid("hf:o/r:Q4 K M", /not a quant tag/);
  invalid("hf:o/r:Q4_K_M!", /not a quant tag/);
  invalid("hf:o/r:Q4__K", /not a quant tag/);
  invalid("hf:o/r:_Q4", /not a quant tag/);
  invalid("hf:o/r:Q4.K", /not a quant tag/);
  invalid("hf:o/r:Q4:K", /more than one :/);
  invalid("hf:o/r@", /followed by a revision/);
  invalid("hf:o/r@a@b", /more than one @/);
  invalid("hf:o/r:Q4@main@dev", /more than one @/);
  invalid("hf:o/r@../main", /not a valid revision/);
  invalid("hf:o/r@ma..in", /not a valid revision/);
  invalid("hf:o/r@/main", /not a valid revision/);
  invalid("hf:o/r@main/", /not a valid revision/);
  invalid("hf:o/r@ma in", /not a valid revision/);
  invalid("hf:o/r@-x", /not a valid revision/);
  invalid("hf:o/r/", /invalid part ""/);
  invalid("hf:o/r//m.gguf", /invalid part ""/);
  invalid("hf:o/r/../m.gguf", /invalid part "\.\."/);
  invalid("hf:o/r/./m.gguf", /invalid part "\."/);
  invalid("hf:o/r/a\\b.gguf", /invalid part/);
  invalid("hf:o/r/m.gguf?x=1", /invalid part/);
  invalid("hf:o/r/README.md", /must name a .gguf file/);
  invalid("hf:o/r/dir", /must name a .gguf file/);
  invalid("hf:o/r/m.gguf:Q4_K_M", /takes no :QUANT/);
  invalid("hf://o/r", /unknown scheme "hf:\/\/".*without \/\//);
});

Deno.test("parseRef: SCHEME:REST of a scheme a registry plugin claims is a plugin reference", () => {
  const schemes = ["mirror", "s3"];
  assert.deepEqual(parseRef("mirror:tiny@v1", { schemes }), {
    kind: "plugin",
    scheme: "mirror",
    body: "tiny@v1",
    reference: "mirror:tiny@v1",
  });
  assert.deepEqual(parseRef("s3://bucket/m.gguf", { schemes }), {
    kind: "plugin",
    scheme: "s3",
    body: "//bucket/m.gguf",
    reference: "s3://bucket/m.gguf",
  });
  // Without a plugin claiming it, mirror:tiny stays a store name; a URL of an unknown scheme hints at plugins.
  assert.deepEqual(parseRef("mirror:tiny"), { kind: "name", name: "mirror:tiny" });
  assert.match(invalid("s3://bucket/m.gguf").hint, /lode plugin add/);
  assert.throws(() => parseRef("mirror:", { schemes }), /needs something after the colon/);
  assert.equal(parseRef("hf:o/r", { schemes }).kind, "hf");
});

Deno.test("mayBePluginRef: only a scheme other than the built-in forms' may be a plugin's", () => {
  for (const ref of ["mirror:tiny", "s3://b/m.gguf", "qwen:q8"]) assert.equal(mayBePluginRef(ref), true, ref);
  for (
    const ref of [
      "hf:o/r",
      "HF:o/r",
      "https://h/m.gguf",
      "http://h/m.gguf",
      "file:m.gguf",
      "hf.co/o/r:Q8_0",
      "tiny",
    ]
  ) {
    assert.equal(mayBePluginRef(ref), false, ref);
  }
});
