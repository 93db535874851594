/**
 * OCI pulls meeting the world around them: another client (skopeo) pushing a Docker Model Runner artifact,
 * a registry on plain http, a registry redirecting blobs to a storage host.
 */
import assert from "node:assert/strict";
import { runLode } from "./support/lode_cli.ts";
import { ociRegistryMissing, startOciRegistry } from "./support/oci_registry.ts";
import { skopeoFor, skopeoMissing } from "./support/oci_push_world.ts";
import { CREDS, OCI_MANIFEST, pushStories, STORIES, withRegistry } from "./support/oci_world.ts";
import { startOrigin } from "./support/origin.ts";
import { STORIES_SHA } from "./support/stories_lockfile.ts";
import { makeTestCa } from "./support/test_ca.ts";

const missing = await ociRegistryMissing();
if (missing) console.log(`skipped: oci_interop_test.ts: ${missing}`);

Deno.test({
  name: "oci: a registry on plain http is reached only for a host allowed with --allow-http",
  ignore: missing !== null,
  fn: () =>
    withRegistry("basic", async ({ reg, lode, store }) => {
      await pushStories(reg, "plain/m", "v1", "ollama");
      const refused = await lode(["pull", `oci://${reg.host}/plain/m:v1`, "--json"], CREDS);
      assert.notEqual(refused.code, 0, refused.stdout);
      const r = await lode(
        ["--allow-http", "127.0.0.1", "pull", `oci://${reg.host}/plain/m:v1`, "--json"],
        CREDS,
      );
      assert.equal(r.code, 0, r.stdout);
      const manifest = JSON.parse(await Deno.readTextFile(`${store}/manifests/m-v1.json`));
      assert.equal(manifest.blob, `sha256:${STORIES_SHA}`);
    }, true),
});

Deno.test({
  name: "oci: a blob redirected to a storage host is fetched there without the registry's Authorization",
  ignore: missing !== null,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "lode-oci-redirect-" });
    const ca = await makeTestCa(`${dir}/ca`);
    const storage = await startOrigin({ tls: ca, hostname: "127.0.0.2", routes: {} });
    try {
      await using reg = await startOciRegistry({
        dir: `${dir}/registry`,
        auth: "token",
        ca,
        redirectTo: storage.url,
      });
      await pushStories(reg, "redirected/m", "v1", "modelpack");
      const hex = STORIES_SHA;
      storage.routes[`/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`] = { body: STORIES };
      const lode = (args: string[]) =>
        runLode(["--ca-cert", ca.caCertPath, ...args], {
          store: `${dir}/store`,
          env: { ...CREDS, DOCKER_CONFIG: `${dir}/docker` },
        });
      const ref = `oci://${reg.host}/redirected/m:v1`;
      const refused = await lode(["pull", ref, "--json"]);
      assert.equal(refused.code, 6, refused.stdout);
      assert.match(refused.stdout, /HOST_NOT_ALLOWED/);
      const r = await lode(["--allow-host", "127.0.0.2", "pull", ref, "--json"]);
      assert.equal(r.code, 0, r.stdout);
      const gets = storage.requests.filter((q) => q.method === "GET");
      assert.ok(gets.length > 0, "the storage host served the blob");
      for (const q of gets) {
        assert.equal(q.headers.authorization, undefined, "Authorization sent to the storage host");
      }
    } finally {
      await storage.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const noSkopeo = missing ?? await skopeoMissing();
if (noSkopeo && !missing) console.log(`skipped: oci_interop_test.ts: ${noSkopeo}`);

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The license and chat template of {@link dockerModelLayout}'s artifact. */
const LAYOUT_LICENSE = "Apache License\nVersion 2.0, January 2004\n";
const LAYOUT_TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}";

/**
 * An OCI image layout holding stories260K as a Docker Model Runner artifact tagged `tag`, with a license and
 * a chat template layer as `docker model package --license … --chat-template …` adds them.
 */
async function dockerModelLayout(dir: string, tag: string): Promise<void> {
  await Deno.mkdir(`${dir}/blobs/sha256`, { recursive: true });
  const put = async (bytes: Uint8Array) => {
    const hex = await sha256Hex(bytes);
    await Deno.writeFile(`${dir}/blobs/sha256/${hex}`, bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const config = new TextEncoder().encode(JSON.stringify({ config: { format: "gguf" }, descriptor: {} }));
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: "application/vnd.docker.ai.model.config.v0.1+json", ...await put(config) },
    layers: [
      { mediaType: "application/vnd.docker.ai.gguf.v3", ...await put(STORIES) },
      {
        mediaType: "application/vnd.docker.ai.license",
        ...await put(new TextEncoder().encode(LAYOUT_LICENSE)),
      },
      {
        mediaType: "application/vnd.docker.ai.chat.template.jinja",
        ...await put(new TextEncoder().encode(LAYOUT_TEMPLATE)),
      },
    ],
  }));
  const described = await put(manifest);
  await Deno.writeTextFile(`${dir}/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await Deno.writeTextFile(
    `${dir}/index.json`,
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: OCI_MANIFEST,
        ...described,
        annotations: { "org.opencontainers.image.ref.name": tag },
      }],
    }),
  );
}

Deno.test({
  name:
    "oci interop: a Docker Model Runner artifact copied by skopeo is pulled by lode with its license and template, pinned as skopeo reads it, and runs",
  ignore: noSkopeo !== null,
  fn: () =>
    withRegistry("token", async ({ reg, lode, dir, store }) => {
      await dockerModelLayout(`${dir}/layout`, "260k");
      const skopeo = await skopeoFor({ reg, dir });
      const target = `${reg.host}/skopeo/stories:260k`;
      await skopeo.copy(`oci:${dir}/layout:260k`, target);
      const raw = await skopeo.inspectRaw(target);

      const r = await lode(["pull", `oci://${reg.host}/skopeo/stories:260k`, "--json"], CREDS);
      assert.equal(r.code, 0, r.stdout);
      const manifest = JSON.parse(await Deno.readTextFile(`${store}/manifests/stories-260k.json`));
      assert.equal(manifest.source.revision, `sha256:${await sha256Hex(new TextEncoder().encode(raw))}`);
      assert.equal(manifest.blob, `sha256:${STORIES_SHA}`);
      assert.deepEqual(manifest.files.map((f: { role: string }) => f.role), [
        "model",
        "license",
        "chat_template",
      ]);
      const shown = await lode(["inspect", "stories-260k", "--json"]);
      const files = JSON.parse(shown.stdout.split("\n").find((l) => l.includes('"event":"inspect"'))!).files;
      assert.equal(await Deno.readTextFile(files[1].path), LAYOUT_LICENSE);
      assert.equal(await Deno.readTextFile(files[2].path), LAYOUT_TEMPLATE);
      const run = await lode([
        "run",
        "stories-260k",
        "Once upon a time",
        "-t",
        "0",
        "-n",
        "20",
        "--threads",
        "1",
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(run.stdout.length > 20, run.stdout);
    }),
});
