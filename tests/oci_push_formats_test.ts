/**
 * `lode push --format docker|modelpack` of a model with a projector against a real registry (Debian's
 * docker-registry, TLS, the tests' Bearer token server): the projector gets its own layer type (Docker's
 * `application/vnd.docker.ai.mmproj`) or an mmproj file name (ModelPack), `skopeo inspect --raw` reads the
 * types, lode pulls each back with the projector as `mmproj`; blobs of a repository the model was pulled
 * from are mounted, not uploaded; a Bearer token that expires mid-push is fetched again.
 */
import assert from "node:assert/strict";
import { ociRegistryMissing } from "./support/oci_registry.ts";
import { importStories, pushEvents, pushWorld, skopeoFor, skopeoMissing } from "./support/oci_push_world.ts";
import { CREDS, layer, OCI_MANIFEST, STORIES, withRegistry } from "./support/oci_world.ts";
import { STORIES_SHA } from "./support/stories_lockfile.ts";
import { writeGgufModel } from "../scripts/gen_gguf.ts";
import { pushModel } from "../src/registry/oci/oci_push.ts";
import { ModelStore } from "../src/store/model_store.ts";

const missing = await ociRegistryMissing();
if (missing) console.log(`skipped: oci_push_formats_test.ts: ${missing}`);

const skopeo = (await skopeoMissing()) === null;

const DOCKER_V01 = "application/vnd.docker.ai.model.config.v0.1+json";

Deno.test({
  name:
    "oci push: a model with a projector in Docker's format and ModelPack, mounted from the repository it came from, read by skopeo and pulled back",
  ignore: missing !== null,
  fn: () =>
    withRegistry("token", async ({ reg, lode, dir }) => {
      // A Docker Model Runner artifact with a projector (a small generated GGUF) and a license, pulled.
      const projector = await writeGgufModel(`${dir}/mmproj.gguf`, { sizeBytes: 256 * 1024, seed: 7 });
      const mmproj = await Deno.readFile(projector.path);
      const modelDigest = await reg.pushBlob("src/vision", STORIES);
      const mmprojDigest = await reg.pushBlob("src/vision", mmproj);
      const license = new TextEncoder().encode("MIT\n");
      const licenseDigest = await reg.pushBlob("src/vision", license);
      const config = new TextEncoder().encode(JSON.stringify({ config: { format: "gguf" }, descriptor: {} }));
      const configDigest = await reg.pushBlob("src/vision", config);
      await reg.pushManifest("src/vision", "v1", {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: layer(DOCKER_V01, configDigest, config.length),
        layers: [
          layer("application/vnd.docker.ai.gguf.v3", modelDigest, STORIES.length),
          layer("application/vnd.docker.ai.mmproj", mmprojDigest, mmproj.length),
          layer("application/vnd.docker.ai.license", licenseDigest, license.length),
        ],
      }, OCI_MANIFEST);
      const pulled = await lode(["pull", `oci://${reg.host}/src/vision:v1`, "--name", "vision"], CREDS);
      assert.equal(pulled.code, 0, pulled.stderr + pulled.stdout);
      const stored = JSON.parse(await Deno.readTextFile(`${dir}/store/manifests/vision.json`));
      assert.deepEqual(stored.files.map((f: { role: string }) => f.role), ["model", "mmproj"]);

      // Docker's format to another repository: both files mounted from src/vision, only the config sent.
      const target = `oci://${reg.host}/dst/vision:v1`;
      const pushed = await lode(["push", "vision", target, "--format", "docker", "--json"], CREDS);
      assert.equal(pushed.code, 0, pushed.stderr + pushed.stdout);
      const events = pushEvents(pushed.stdout);
      const blobs = events.filter((e) => e.event === "push_blob");
      assert.deepEqual(
        blobs.map((b) => [b.role, b.mounted_from ?? null]),
        [["model", "src/vision"], ["mmproj", "src/vision"], ["config", null]],
      );
      const done = events.find((e) => e.event === "pushed")!;
      assert.equal(done.blobs_mounted, 2);
      assert.equal(done.blobs_uploaded, 1);
      assert.ok(Number(done.bytes_uploaded) < 1024, `${done.bytes_uploaded} bytes sent: the config only`);
      assert.ok(reg.tokenRequests.some((t) => t.scope?.includes("repository:src/vision:pull")));
      // The target repository has the blobs (a HEAD there answers 200) though nothing was uploaded to it.
      for (const digest of [modelDigest, mmprojDigest]) {
        const head = await reg.request("HEAD", `/v2/dst/vision/blobs/${digest}`);
        assert.equal(head.status, 200, digest);
      }
      const manifest = await (await reg.request("GET", "/v2/dst/vision/manifests/v1", {
        headers: { accept: OCI_MANIFEST },
      })).json();
      assert.equal(manifest.config.mediaType, DOCKER_V01);
      assert.deepEqual(manifest.layers.map((l: { mediaType: string }) => l.mediaType), [
        "application/vnd.docker.ai.gguf.v3",
        "application/vnd.docker.ai.mmproj",
      ]);
      const dockerConfig = await (await reg.request("GET", `/v2/dst/vision/blobs/${manifest.config.digest}`))
        .json();
      assert.equal(dockerConfig.config.format, "gguf");
      assert.equal(dockerConfig.config.architecture, "llama");
      assert.equal(dockerConfig.config.quantization, "F32");
      assert.deepEqual(dockerConfig.rootfs, { type: "rootfs", diff_ids: [modelDigest, mmprojDigest] });

      if (skopeo) {
        const raw = JSON.parse(await (await skopeoFor({ reg, dir })).inspectRaw(`${reg.host}/dst/vision:v1`));
        assert.equal(raw.config.mediaType, DOCKER_V01);
        assert.equal(raw.layers[1].mediaType, "application/vnd.docker.ai.mmproj");
      }

      // Pulled back into another store: the projector is mmproj again.
      const other = `${dir}/other-store`;
      const back = await lode(["--store", other, "pull", target, "--name", "back"], CREDS);
      assert.equal(back.code, 0, back.stderr + back.stdout);
      const backManifest = JSON.parse(await Deno.readTextFile(`${other}/manifests/back.json`));
      assert.deepEqual(backManifest.files.map((f: { role: string }) => f.role), ["model", "mmproj"]);
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
      const mpBack = await lode(["--store", other, "pull", mp, "--name", "back-mp"], CREDS);
      assert.equal(mpBack.code, 0, mpBack.stderr + mpBack.stdout);
      const mpStored = JSON.parse(await Deno.readTextFile(`${other}/manifests/back-mp.json`));
      assert.deepEqual(mpStored.files.map((f: { role: string }) => f.role), ["model", "mmproj"]);
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
