import assert from "node:assert/strict";
import { isLodeError } from "../../errors.ts";
import { mayBePluginRef, parseRef } from "../reference.ts";
import { type DockerConfigEffects, ociCredentials } from "./docker_config.ts";
import { parseChallenge } from "./oci_auth.ts";
import { planFromManifest, shapeOf } from "./oci_plan.ts";
import { formatOciRef, type OciRef } from "./oci_ref.ts";

const HEX = "ab".repeat(32);
const DIGEST = `sha256:${HEX}`;

Deno.test("oci refs: tag, digest, port, default tag, canonical text", () => {
  assert.deepEqual(parseRef("oci://ghcr.io/acme/models/qwen:q8"), {
    kind: "oci",
    host: "ghcr.io",
    repository: "acme/models/qwen",
    tag: "q8",
  });
  assert.deepEqual(parseRef(`oci://127.0.0.1:5000/m@${DIGEST}`), {
    kind: "oci",
    host: "127.0.0.1:5000",
    repository: "m",
    digest: DIGEST,
  });
  const latest = parseRef("oci://Reg.Example/a/b") as OciRef;
  assert.equal(latest.tag, "latest");
  assert.equal(latest.host, "reg.example");
  assert.equal(formatOciRef(parseRef(`oci://h:1/a:t@${DIGEST}`) as OciRef), `oci://h:1/a:t@${DIGEST}`);
  assert.equal(mayBePluginRef("oci://h/a:t"), false);
});

Deno.test("oci refs: bad ones are INVALID_REF saying why", () => {
  for (
    const [ref, why] of [
      ["oci://", /HOST\/REPO/],
      ["oci://host", /HOST\/REPO/],
      ["oci://host/Upper:t", /repository part/],
      ["oci://host/a:b:c", /repository part/],
      ["oci://host/a@sha256:xyz", /64 lower-case hex/],
      ["oci://host/a:-bad", /valid tag/],
      ["oci://host:99999/a", /out of range/],
      ["oci:host/a", /with \/\//],
    ] as const
  ) {
    assert.throws(
      () => parseRef(ref),
      (e) => isLodeError(e) && e.code === "INVALID_REF" && why.test(e.message),
      ref,
    );
  }
});

Deno.test("parseChallenge: Bearer params, quoted commas, Basic", () => {
  assert.deepEqual(
    parseChallenge('Bearer realm="https://a.example/token",service="reg",scope="repository:x/y:pull,push"'),
    {
      scheme: "bearer",
      params: { realm: "https://a.example/token", service: "reg", scope: "repository:x/y:pull,push" },
    },
  );
  assert.deepEqual(parseChallenge('Basic realm="r"'), { scheme: "basic", params: { realm: "r" } });
  assert.equal(parseChallenge(undefined), null);
});

const ref: OciRef = { kind: "oci", host: "reg.example:5000", repository: "ai/smol", tag: "q4" };
const l = (mediaType: string, n: number, annotations?: Record<string, string>) => ({
  mediaType,
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  size: 10 * n,
  ...(annotations ? { annotations } : {}),
});

Deno.test("planFromManifest: Docker Model Runner shards, projector, license and template kept last", () => {
  const plan = planFromManifest(ref, DIGEST, {
    config: l("application/vnd.docker.ai.model.config.v0.2+json", 9),
    layers: [
      l("application/vnd.docker.ai.license", 1),
      l("application/vnd.docker.ai.gguf.v3", 2),
      l("application/vnd.docker.ai.gguf.v3", 3),
      l("application/vnd.docker.ai.gguf.v3.mmproj", 4),
      l("application/vnd.docker.ai.chat.template.jinja", 5),
    ],
  });
  assert.equal(plan.name, "smol-q4");
  assert.deepEqual(plan.source, { registry: "oci", repo: "reg.example:5000/ai/smol", revision: DIGEST });
  assert.deepEqual(plan.files.map((f) => [f.role, f.filename, f.optional ?? false]), [
    ["shard", "model-00001-of-00002.gguf", false],
    ["shard", "model-00002-of-00002.gguf", false],
    ["license", "LICENSE", true],
    ["mmproj", "mmproj.gguf", true],
    ["chat_template", "template.jinja", true],
  ]);
  assert.equal(plan.files[2]!.sha256, "1".repeat(64));
  assert.equal(plan.skipped, undefined);
  assert.equal(plan.files[0]!.url, `https://reg.example:5000/v2/ai/smol/blobs/sha256:${"2".repeat(64)}`);
  assert.equal(plan.files[0]!.sha256, "2".repeat(64));
  assert.equal(plan.files[0]!.sizeBytes, 20);
});

Deno.test("planFromManifest: ModelPack file paths; unsafe paths and unknown types refused", () => {
  const modelpack = (layers: ReturnType<typeof l>[]) => ({
    artifactType: "application/vnd.cncf.model.manifest.v1+json",
    config: l("application/vnd.cncf.model.config.v1+json", 9),
    layers,
  });
  const plan = planFromManifest(
    ref,
    DIGEST,
    modelpack([l("application/vnd.cncf.model.weight.v1.raw", 1, { "org.cncf.model.filepath": "q/m.gguf" })]),
  );
  assert.equal(plan.files[0]!.filename, "q/m.gguf");
  assert.throws(
    () =>
      planFromManifest(
        ref,
        DIGEST,
        modelpack([
          l("application/vnd.cncf.model.weight.v1.raw", 1, { "org.cncf.model.filepath": "../x.gguf" }),
        ]),
      ),
    (e) => isLodeError(e) && e.code === "MANIFEST_INVALID",
  );
  assert.throws(
    () => planFromManifest(ref, DIGEST, modelpack([l("application/vnd.cncf.model.weight.v1.tar", 1)])),
    (e) =>
      isLodeError(e) && e.code === "OCI_UNSUPPORTED" &&
      (e.details as { layers: string[] }).layers.includes("application/vnd.ollama.image.model"),
  );
  assert.throws(
    () => shapeOf("h", { config: l("application/vnd.docker.container.image.v1+json", 1), layers: [] }),
    (e) => isLodeError(e) && e.code === "OCI_UNSUPPORTED",
  );
});

Deno.test("planFromManifest: ModelPack's LICENSE doc and .jinja config are kept, other text is not; over 1 MiB is skipped", () => {
  const fp = (path: string) => ({ "org.cncf.model.filepath": path });
  const plan = planFromManifest(ref, DIGEST, {
    artifactType: "application/vnd.cncf.model.manifest.v1+json",
    config: l("application/vnd.cncf.model.config.v1+json", 9),
    layers: [
      l("application/vnd.cncf.model.weight.v1.raw", 1, fp("m.gguf")),
      l("application/vnd.cncf.model.doc.v1.raw", 2, fp("README.md")),
      l("application/vnd.cncf.model.doc.v1.raw", 3, fp("docs/LICENSE.txt")),
      l("application/vnd.cncf.model.weight.config.v1.raw", 4, fp("config.json")),
      l("application/vnd.cncf.model.weight.config.v1.raw", 5, fp("chat_template.jinja")),
    ],
  });
  assert.deepEqual(plan.files.map((f) => [f.role, f.filename]), [
    ["model", "m.gguf"],
    ["license", "docs/LICENSE.txt"],
    ["chat_template", "chat_template.jinja"],
  ]);
  // Ollama's template is Go template syntax: its own role. A text layer over 1 MiB is named, not planned.
  const big = { ...l("application/vnd.ollama.image.license", 6), size: 1024 * 1024 + 1 };
  const ollama = planFromManifest(ref, DIGEST, {
    config: l("application/vnd.docker.container.image.v1+json", 9),
    layers: [
      l("application/vnd.ollama.image.model", 1),
      l("application/vnd.ollama.image.template", 2),
      big,
      l("application/vnd.ollama.image.params", 3),
    ],
  });
  assert.deepEqual(ollama.files.map((f) => [f.role, f.filename]), [
    ["model", "model.gguf"],
    ["ollama_template", "template"],
  ]);
  assert.deepEqual(ollama.skipped, [
    {
      role: "license",
      filename: "LICENSE",
      sizeBytes: 1024 * 1024 + 1,
      reason: "too_large",
      limitBytes: 1024 * 1024,
    },
  ]);
});

Deno.test("ociCredentials: env first, then credHelpers, auths, credsStore", async () => {
  const files: Record<string, string> = {};
  const helpers: Record<string, string> = {};
  const effects: DockerConfigEffects = {
    readText: (p) => Promise.resolve(files[p] ?? null),
    runHelper: (name, host) => Promise.resolve(helpers[`${name}/${host}`] ?? null),
  };
  const settings = { dockerConfigDir: "/d" };
  assert.equal(await ociCredentials("h", settings, effects), undefined);
  assert.deepEqual(await ociCredentials("h", { ...settings, ociUsername: "u", ociPassword: "p" }, effects), {
    username: "u",
    password: "p",
  });
  files["/d/config.json"] = JSON.stringify({
    auths: { "https://h": { auth: btoa("a:b:c") } },
    credsStore: "st",
  });
  assert.deepEqual(await ociCredentials("h", settings, effects), { username: "a", password: "b:c" });
  helpers["st/other"] = JSON.stringify({ Username: "x", Secret: "y" });
  assert.deepEqual(await ociCredentials("other", settings, effects), { username: "x", password: "y" });
  files["/d/config.json"] = JSON.stringify({ credHelpers: { h: "hp" } });
  helpers["hp/h"] = JSON.stringify({ Username: "<token>", Secret: "tok" });
  assert.deepEqual(await ociCredentials("h", settings, effects), {
    username: "",
    password: "",
    identityToken: "tok",
  });
  files["/d/config.json"] = "{";
  await assert.rejects(
    () => ociCredentials("h", settings, effects),
    (e) => isLodeError(e) && e.code === "CONFIG_INVALID",
  );
});
