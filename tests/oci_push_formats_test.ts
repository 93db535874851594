/**
 * `lode push --format docker|modelpack` of a model with a projector, a license and a chat template against
 * a real registry (Debian's docker-registry, TLS, the tests' Bearer token server): the projector gets its
 * own layer type (Docker's `application/vnd.docker.ai.mmproj`) or an mmproj file name (ModelPack), the
 * license and template Docker's license and Jinja template types or ModelPack's doc and weight-config
 * types, `skopeo inspect --raw` reads the types, lode pulls each back with the same files byte for byte;
 * blobs of a repository the model was pulled from are mounted, not uploaded; a Bearer token that expires
 * mid-push is fetched again.
 */
import assert from "node:assert/strict";
import { ociRegistryMissing } from "./support/oci_registry.ts";
import { importStories, pushEvents, pushWorld, skopeoFor, skopeoMissing } from "./support/oci_push_world.ts";
import {
  CREDS,
  DOCKER_MODEL_CONFIG,
  OCI_MANIFEST,
  pushDockerArtifact,
  STORIES,
  withRegistry,
} from "./support/oci_world.ts";
import { STORIES_SHA } from "./support/stories_lockfile.ts";
import { writeGgufModel } from "../scripts/gen_gguf.ts";
import { pushModel } from "../src/registry/oci/oci_push.ts";
import { ModelStore } from "../src/store/model_store.ts";

const missing = await ociRegistryMissing();
if (missing) console.log(`skipped: oci_push_formats_test.ts: ${missing}`);

const skopeo = (await skopeoMissing()) === null;

/** The roles of a stored model's files and each file's bytes (read through its blob). */
async function storedFiles(store: string, name: string): Promise<[string, string, Uint8Array][]> {
  const manifest = JSON.parse(await Deno.readTextFile(`${store}/manifests/${name}.json`));
  return await Promise.all(
    manifest.files.map(async (f: { role: string; filename: string; blob: string }) => {
      const hex = f.blob.slice("sha256:".length);
      return [
        f.role,
        f.filename,
        await Deno.readFile(`${store}/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`),
      ];
    }),
  );
}

/** The [role, bytes] of a model's license and chat template. */
const textFiles = (files: [string, string, Uint8Array][]) =>
  files.filter(([role]) => role === "license" || role === "chat_template").map(([role, , bytes]) => [
    role,
    new TextDecoder().decode(bytes),
  ]);

Deno.test({
  name:
    "oci push: a model with a projector in Docker's format and ModelPack, mounted from the repository it came from, read by skopeo and pulled back",
  ignore: missing !== null,
  fn: () =>
    withRegistry("token", async ({ reg, lode, dir }) => {
      // A Docker Model Runner artifact with a projector (a small generated GGUF) and a license, pulled.
      const projector = await writeGgufModel(`${dir}/mmproj.gguf`, { sizeBytes: 256 * 1024, seed: 7 });
      const mmproj = await Deno.readFile(projector.path);
      const licenseText = "MIT License\n\nCopyright (c) the authors. Ünïcode kept.\n";
      const license = new TextEncoder().encode(licenseText);
      const templateText = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}";
      const source = await pushDockerArtifact(reg, "src/vision", "v1", [
        { mediaType: "application/vnd.docker.ai.gguf.v3", bytes: STORIES },
        { mediaType: "application/vnd.docker.ai.mmproj", bytes: mmproj },
        { mediaType: "application/vnd.docker.ai.license", bytes: license },
        {
          mediaType: "application/vnd.docker.ai.chat.template.jinja",
          bytes: new TextEncoder().encode(templateText),
        },
      ]);
      const [modelDigest, mmprojDigest, licenseDigest, templateDigest] = source.layers;
      const pulled = await lode(["pull", `oci://${reg.host}/src/vision:v1`, "--name", "vision"], CREDS);
      assert.equal(pulled.code, 0, pulled.stderr + pulled.stdout);
      const stored = await storedFiles(`${dir}/store`, "vision");
      assert.deepEqual(stored.map(([role, filename]) => [role, filename]), [
        ["model", "model.gguf"],
        ["mmproj", "mmproj.gguf"],
        ["license", "LICENSE"],
        ["chat_template", "template.jinja"],
      ]);
      const texts = [["license", licenseText], ["chat_template", templateText]];
      assert.deepEqual(textFiles(stored), texts);

      // lode inspect lists the license and the template, each with a path that reads its bytes.
      const shown = await lode(["inspect", "vision", "--json"]);
      assert.equal(shown.code, 0, shown.stderr);
      const event = JSON.parse(shown.stdout.split("\n").find((l) => l.includes('"event":"inspect"'))!);
      const shownLicense = event.files.find((f: { role: string }) => f.role === "license");
      assert.equal(shownLicense.filename, "LICENSE");
      assert.equal(shownLicense.size_bytes, license.length);
      assert.equal(await Deno.readTextFile(shownLicense.path), licenseText);
      const human = await lode(["inspect", "vision"]);
      assert.match(human.stdout, /^license +LICENSE \(\d+ B\) \S+\/LICENSE$/m);
      assert.match(human.stdout, /^template file +template\.jinja /m);
      const listed = await lode(["ls", "--json"]);
      const row = JSON.parse(listed.stdout.split("\n").find((l) => l.includes('"name":"vision"'))!);
      assert.equal(row.license_file, "LICENSE");

      // Docker's format to another repository: both files mounted from src/vision, only the config sent.
      const target = `oci://${reg.host}/dst/vision:v1`;
      const pushed = await lode(["push", "vision", target, "--format", "docker", "--json"], CREDS);
      assert.equal(pushed.code, 0, pushed.stderr + pushed.stdout);
      const events = pushEvents(pushed.stdout);
      const blobs = events.filter((e) => e.event === "push_blob");
      assert.deepEqual(
        blobs.map((b) => [b.role, b.mounted_from ?? null]),
        [
          ["model", "src/vision"],
          ["mmproj", "src/vision"],
          ["license", "src/vision"],
          ["chat_template", "src/vision"],
          ["config", null],
        ],
      );
      const done = events.find((e) => e.event === "pushed")!;
      assert.equal(done.blobs_mounted, 4);
      assert.equal(done.blobs_uploaded, 1);
      assert.ok(Number(done.bytes_uploaded) < 1024, `${done.bytes_uploaded} bytes sent: the config only`);
      assert.ok(reg.tokenRequests.some((t) => t.scope?.includes("repository:src/vision:pull")));
      // The target repository has the blobs (a HEAD there answers 200) though nothing was uploaded to it.
      for (const digest of [modelDigest, mmprojDigest, licenseDigest, templateDigest]) {
        const head = await reg.request("HEAD", `/v2/dst/vision/blobs/${digest}`);
        assert.equal(head.status, 200, digest);
      }
      const manifest = await (await reg.request("GET", "/v2/dst/vision/manifests/v1", {
        headers: { accept: OCI_MANIFEST },
      })).json();
      assert.equal(manifest.config.mediaType, DOCKER_MODEL_CONFIG);
      const dockerTypes = [
        "application/vnd.docker.ai.gguf.v3",
        "application/vnd.docker.ai.mmproj",
        "application/vnd.docker.ai.license",
        "application/vnd.docker.ai.chat.template.jinja",
      ];
      assert.deepEqual(manifest.layers.map((l: { mediaType: string }) => l.mediaType), dockerTypes);
      const dockerConfig = await (await reg.request("GET", `/v2/dst/vision/blobs/${manifest.config.digest}`))
        .json();
      assert.equal(dockerConfig.config.format, "gguf");
      assert.equal(dockerConfig.config.architecture, "llama");
      assert.equal(dockerConfig.config.quantization, "F32");
      assert.deepEqual(dockerConfig.rootfs, {
        type: "rootfs",
        diff_ids: [modelDigest, mmprojDigest, licenseDigest, templateDigest],
      });
      assert.equal(dockerConfig.config.size, "1.13 MiB", "the weights' size, without the projector and text");

      if (skopeo) {
        const raw = JSON.parse(await (await skopeoFor({ reg, dir })).inspectRaw(`${reg.host}/dst/vision:v1`));
        assert.equal(raw.config.mediaType, DOCKER_MODEL_CONFIG);
        assert.deepEqual(raw.layers.map((l: { mediaType: string }) => l.mediaType), dockerTypes);
        assert.deepEqual(raw.layers.slice(2).map((l: { digest: string }) => l.digest), [
          licenseDigest,
          templateDigest,
        ]);
      }

      // Pulled back into another store: the projector is mmproj again, the license and template the same bytes.
      const other = `${dir}/other-store`;
      const back = await lode(["--store", other, "pull", target, "--name", "back"], CREDS);
      assert.equal(back.code, 0, back.stderr + back.stdout);
      const backFiles = await storedFiles(other, "back");
      assert.deepEqual(backFiles.map(([role]) => role), ["model", "mmproj", "license", "chat_template"]);
      assert.deepEqual(textFiles(backFiles), texts);
      const backManifest = JSON.parse(await Deno.readTextFile(`${other}/manifests/back.json`));
      assert.equal(backManifest.files[0].blob, `sha256:${STORIES_SHA}`);

      // ModelPack: the projector a weight layer named mmproj-…; pulled back as mmproj.
      const mp = `oci://${reg.host}/dst/vision-mp:v1`;
      const mpPush = await lode(["push", "vision", mp, "--json"], CREDS);
      assert.equal(mpPush.code, 0, mpPush.stderr + mpPush.stdout);
      const mpManifest = await (await reg.request("GET", "/v2/dst/vision-mp/manifests/v1", {
        headers: { accept: OCI_MANIFEST },
      })).json();
      assert.equal(mpManifest.artifactType, "application/vnd.cncf.model.manifest.v1+json");
      const paths = mpManifest.layers.map((l: { annotations: Record<string, string> }) =>
        l.annotations["org.cncf.model.filepath"]
      );
      assert.match(paths[1], /mmproj/);
      assert.deepEqual(paths.slice(2), ["LICENSE", "template.jinja"]);
      const modelPackTypes = [
        "application/vnd.cncf.model.weight.v1.raw",
        "application/vnd.cncf.model.weight.v1.raw",
        "application/vnd.cncf.model.doc.v1.raw",
        "application/vnd.cncf.model.weight.config.v1.raw",
      ];
      assert.deepEqual(mpManifest.layers.map((l: { mediaType: string }) => l.mediaType), modelPackTypes);
      if (skopeo) {
        const raw = JSON.parse(
          await (await skopeoFor({ reg, dir })).inspectRaw(`${reg.host}/dst/vision-mp:v1`),
        );
        assert.deepEqual(raw.layers.map((l: { mediaType: string }) => l.mediaType), modelPackTypes);
      }
      const mpBack = await lode(["--store", other, "pull", mp, "--name", "back-mp"], CREDS);
      assert.equal(mpBack.code, 0, mpBack.stderr + mpBack.stdout);
      const mpFiles = await storedFiles(other, "back-mp");
      assert.deepEqual(mpFiles.map(([role]) => role), ["model", "mmproj", "license", "chat_template"]);
      assert.deepEqual(textFiles(mpFiles), texts);
      // The round trip keeps the model checkable: verify reads the GGUF files and hashes the text ones.
      const verified = await lode(["--store", other, "verify", "back-mp"]);
      assert.equal(verified.code, 0, verified.stderr + verified.stdout);
    }),
});

Deno.test({
  name: "oci push: a Bearer token that expires mid-upload is fetched again once and the upload goes on",
  ignore: missing !== null,
  fn: () =>
    // The first token expires (with distribution's leeway of about a minute) some 8 s after it is minted.
    withRegistry(
      "token",
      async ({ reg, lode, store: root }) => {
        await importStories({ lode });
        const store = await ModelStore.open(root);
        using push = pushWorld({ reg }, store);
        let patches = 0;
        const statuses: number[] = [];
        const started = Date.now();
        const effects = push.effects({
          async send(method, url, init) {
            // After the first chunk, wait until the first token has expired.
            if (method === "PATCH" && ++patches === 2) {
              await new Promise((r) => setTimeout(r, Math.max(0, started + 12_000 - Date.now())));
            }
            const response = await push.send(method, url, init);
            statuses.push(response.status);
            return response;
          },
        });
        const pushed = await pushModel(store, "stories260K", push.ref("m/stories:v1"), effects, {
          chunkBytes: 256 * 1024,
        });
        assert.equal(pushed.blobs_uploaded, 2);
        assert.ok(statuses.filter((s) => s === 401).length >= 2, `statuses ${statuses}`); // first, and expiry
        assert.equal(reg.tokenRequests.length, 2);
        assert.deepEqual(await Deno.readFile(reg.blobPath(`sha256:${STORIES_SHA}`)), STORIES);
      },
      false,
      { tokenExpiry: (n, now) => (n === 1 ? now - 50 : now + 600) },
    ),
});
