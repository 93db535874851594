/**
 * `lode pull oci://…` against a real registry: Debian's docker-registry (distribution 2.8) on loopback
 * with TLS and Bearer token auth (the tests' token server) or htpasswd Basic auth; artifacts pushed with
 * the registry's HTTP API in each accepted shape; the real CLI in child processes.
 */
import assert from "node:assert/strict";
import { OCI_USER, ociRegistryMissing } from "./support/oci_registry.ts";
import {
  CREDS,
  DOCKER_MANIFEST,
  EMPTY_JSON,
  layer,
  OCI_INDEX,
  OCI_MANIFEST,
  pushStories,
  STORIES,
  withRegistry,
} from "./support/oci_world.ts";
import { STORIES_SHA } from "./support/stories_lockfile.ts";

const missing = await ociRegistryMissing();
if (missing) console.log(`skipped: oci_pull_test.ts: ${missing}`);

Deno.test({
  name:
    "oci: each shape (ModelPack, Docker Model Runner, Ollama, an index) pulls with a Bearer token and runs",
  ignore: missing !== null,
  fn: () =>
    withRegistry("token", async ({ reg, lode, store }) => {
      for (const shape of ["modelpack", "docker", "ollama"]) {
        await pushStories(reg, `models/${shape}`, "260k", shape);
      }
      // An index pointing at the ModelPack manifest.
      const inner = await reg.request("GET", "/v2/models/modelpack/manifests/260k", {
        headers: { accept: OCI_MANIFEST },
      });
      const innerBytes = new Uint8Array(await inner.arrayBuffer());
      const innerDigest = inner.headers.get("docker-content-digest")!;
      await reg.pushManifest("models/modelpack", "index", {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{
          mediaType: OCI_MANIFEST,
          digest: innerDigest,
          size: innerBytes.length,
          artifactType: "application/vnd.cncf.model.manifest.v1+json",
        }],
      }, OCI_INDEX);

      // Without credentials: the token realm refuses, ACCESS_DENIED names the registry.
      const denied = await lode(["pull", `oci://${reg.host}/models/docker:260k`, "--json"]);
      assert.equal(denied.code, 6, denied.stderr);
      assert.match(denied.stdout + denied.stderr, /ACCESS_DENIED/);
      assert.match(denied.stdout + denied.stderr, new RegExp(reg.host.replace(/\./g, "\\.")));

      for (
        const [shape, tag] of [["docker", "260k"], ["modelpack", "260k"], ["ollama", "260k"], [
          "modelpack",
          "index",
        ]]
      ) {
        const ref = `oci://${reg.host}/models/${shape}:${tag}`;
        const r = await lode(["pull", ref, "--name", `s-${shape}-${tag}`, "--json"], CREDS);
        assert.equal(r.code, 0, `${ref}: ${r.stderr}${r.stdout}`);
        assert.ok(!r.stdout.includes(OCI_USER.password) && !r.stderr.includes(OCI_USER.password));
      }
      const manifest = JSON.parse(await Deno.readTextFile(`${store}/manifests/s-docker-260k.json`));
      assert.equal(manifest.blob, `sha256:${STORIES_SHA}`);
      assert.equal(manifest.source.registry, "oci");
      assert.equal(manifest.source.repo, `${reg.host}/models/docker`);
      assert.match(manifest.source.revision, /^sha256:[0-9a-f]{64}$/); // the manifest's digest: the pin
      for await (const entry of walk(store)) {
        const text = await Deno.readTextFile(entry);
        assert.ok(!text.includes(OCI_USER.password), `${entry} holds the password`);
        assert.ok(!/Bearer [A-Za-z0-9_-]+\./.test(text), `${entry} holds a token`);
      }
      // The token server was asked for the pull scope of each repository, with Basic credentials.
      assert.ok(
        reg.tokenRequests.some((t) => t.scope === "repository:models/docker:pull" && t.scheme === "Basic"),
      );

      const run = await lode([
        "run",
        "s-ollama-260k",
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

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* walk(path);
    else if (e.isFile && /\.(json|lock|toml)$/.test(e.name)) yield path;
  }
}

Deno.test({
  name: "oci: a tag moved after lock add — sync --frozen pulls the pinned digest",
  ignore: missing !== null,
  fn: () =>
    withRegistry("basic", async ({ reg, lode, dir, store }) => {
      const pinned = await pushStories(reg, "m/stories", "v1", "docker");
      const lockfile = `${dir}/lode.lock`;
      const env = { ...CREDS, LODE_LOCKFILE: lockfile };
      const added = await lode(["lock", "add", `oci://${reg.host}/m/stories:v1`, "--json"], env);
      assert.equal(added.code, 0, added.stderr);
      const lock = await Deno.readTextFile(lockfile);
      assert.ok(lock.includes(pinned), lock);
      assert.ok(!lock.includes(OCI_USER.password) && !/Basic /.test(lock), lock);
      // The tag moves to other bytes.
      const other = new Uint8Array(STORIES);
      other[other.length - 1] = other[other.length - 1]! ^ 0xff;
      const moved = await pushStories(reg, "m/stories", "v1", "docker", { model: other });
      assert.notEqual(moved, pinned);
      const synced = await lode(["sync", "--frozen", "--json"], env);
      assert.equal(synced.code, 0, synced.stderr);
      const manifest = JSON.parse(await Deno.readTextFile(`${store}/manifests/stories-v1.json`));
      assert.equal(manifest.blob, `sha256:${STORIES_SHA}`);
      assert.equal(manifest.source.revision, pinned);
    }),
});

Deno.test({
  name: "oci: bad bytes are quarantined, a missing blob and an unknown layer type fail typed",
  ignore: missing !== null,
  fn: () =>
    withRegistry("basic", async ({ reg, lode, dir }) => {
      // Bytes changed in the registry's storage after the push: the digest check catches them.
      await pushStories(reg, "bad/bytes", "v1", "ollama");
      const path = reg.blobPath(`sha256:${STORIES_SHA}`);
      const bytes = await Deno.readFile(path);
      bytes[1000] = bytes[1000]! ^ 0xff;
      await Deno.writeFile(path, bytes);
      const bad = await lode(["pull", `oci://${reg.host}/bad/bytes:v1`, "--json"], CREDS);
      assert.equal(bad.code, 4, bad.stderr);
      assert.match(bad.stdout + bad.stderr, /DIGEST_MISMATCH/);
      const quarantined = /"quarantine_path":"([^"]+)"/.exec(bad.stdout)?.[1];
      assert.ok(quarantined && (await Deno.stat(quarantined)).isFile, bad.stdout);
      await Deno.writeFile(path, STORIES); // the registry's storage as it was, for the cases below

      // A manifest whose model blob the registry no longer has.
      const gone = await reg.pushBlob("gone/blob", new TextEncoder().encode("not here for long"));
      const configDigest = await reg.pushBlob("gone/blob", EMPTY_JSON);
      await reg.pushManifest("gone/blob", "v1", {
        schemaVersion: 2,
        mediaType: DOCKER_MANIFEST,
        config: layer("application/vnd.docker.container.image.v1+json", configDigest, EMPTY_JSON.length),
        layers: [layer("application/vnd.ollama.image.model", gone, 17)],
      }, DOCKER_MANIFEST);
      await Deno.remove(reg.blobPath(gone));
      const lost = await lode(["pull", `oci://${reg.host}/gone/blob:v1`, "--json"], CREDS);
      assert.notEqual(lost.code, 0);
      assert.match(lost.stdout + lost.stderr, /HTTP_NOT_FOUND|HTTP_STATUS/);

      // A layer type lode does not read: OCI_UNSUPPORTED listing those it does.
      const blob = await reg.pushBlob("odd/type", STORIES);
      const cfg = await reg.pushBlob("odd/type", EMPTY_JSON);
      await reg.pushManifest("odd/type", "v1", {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: "application/vnd.cncf.model.manifest.v1+json",
        config: layer("application/vnd.cncf.model.config.v1+json", cfg, EMPTY_JSON.length),
        layers: [layer("application/vnd.cncf.model.weight.v1.tar+zstd", blob, STORIES.length)],
      }, OCI_MANIFEST);
      const odd = await lode(["pull", `oci://${reg.host}/odd/type:v1`, "--json"], CREDS);
      assert.equal(odd.code, 2, odd.stderr);
      assert.match(odd.stdout + odd.stderr, /OCI_UNSUPPORTED/);
      assert.match(odd.stdout + odd.stderr, /application\/vnd\.cncf\.model\.weight\.v1\.raw/);

      // Basic auth from ~/.docker/config.json, and 401 without it.
      await pushStories(reg, "basic/auth", "v1", "modelpack");
      const noCreds = await lode(["pull", `oci://${reg.host}/basic/auth:v1`, "--json"]);
      assert.equal(noCreds.code, 6, noCreds.stderr);
      assert.match(noCreds.stdout + noCreds.stderr, /ACCESS_DENIED/);
      const wrong = await lode(["pull", `oci://${reg.host}/basic/auth:v1`, "--json"], {
        LODE_OCI_USERNAME: OCI_USER.username,
        LODE_OCI_PASSWORD: "wrong-pass-7f3a",
      });
      assert.equal(wrong.code, 6, wrong.stderr);
      assert.match(wrong.stdout, /refused the credentials given/);
      assert.ok(!(wrong.stdout + wrong.stderr).includes("wrong-pass-7f3a"), "the password is printed");
      await Deno.mkdir(`${dir}/docker`, { recursive: true });
      const auth = btoa(`${OCI_USER.username}:${OCI_USER.password}`);
      await Deno.writeTextFile(
        `${dir}/docker/config.json`,
        JSON.stringify({ auths: { [reg.host]: { auth } } }),
      );
      const fromConfig = await lode([
        "pull",
        `oci://${reg.host}/basic/auth:v1`,
        "--name",
        "from-config",
        "--json",
      ]);
      assert.equal(fromConfig.code, 0, fromConfig.stdout);
      // A credential helper (docker-credential-NAME get, the host on stdin) named in credHelpers.
      await Deno.mkdir(`${dir}/bin`);
      await Deno.writeTextFile(
        `${dir}/bin/docker-credential-lodetest`,
        `#!/bin/sh\nread host\n[ "$host" = "${reg.host}" ] || exit 1\n` +
          `echo '{"ServerURL":"${reg.host}","Username":"${OCI_USER.username}","Secret":"${OCI_USER.password}"}'\n`,
      );
      await Deno.chmod(`${dir}/bin/docker-credential-lodetest`, 0o755);
      await Deno.writeTextFile(
        `${dir}/docker/config.json`,
        JSON.stringify({ credHelpers: { [reg.host]: "lodetest" } }),
      );
      const fromHelper = await lode([
        "pull",
        `oci://${reg.host}/basic/auth:v1`,
        "--name",
        "from-helper",
        "--json",
      ], {
        PATH: `${dir}/bin:${Deno.env.get("PATH")}`,
      });
      assert.equal(fromHelper.code, 0, fromHelper.stdout);
    }),
});

Deno.test({
  name: "oci: a license layer over 1 MiB is not kept: the pull says so (file_skipped) and stores the model",
  ignore: missing !== null,
  fn: () =>
    withRegistry("basic", async ({ reg, lode, store }) => {
      const license = new Uint8Array(1024 * 1024 + 1).fill(0x41);
      await pushStories(reg, "big/license", "v1", "docker", { license });
      const r = await lode(["pull", `oci://${reg.host}/big/license:v1`, "--json"], CREDS);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const skipped = r.stdout.split("\n").filter((l) => l.includes('"event":"file_skipped"')).map((l) =>
        JSON.parse(l)
      );
      assert.equal(skipped.length, 1, r.stdout);
      assert.equal(skipped[0].filename, "LICENSE");
      assert.equal(skipped[0].role, "license");
      assert.equal(skipped[0].size_bytes, license.length);
      assert.equal(skipped[0].reason, "too_large");
      assert.equal(skipped[0].limit_bytes, 1024 * 1024);
      const manifest = JSON.parse(await Deno.readTextFile(`${store}/manifests/license-v1.json`));
      assert.equal(manifest.blob, `sha256:${STORIES_SHA}`);
      assert.equal(manifest.files, undefined);
      const human = await lode(["pull", `oci://${reg.host}/big/license:v1`, "--name", "again"], CREDS);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stderr, /LICENSE \(license, 1\.0 MiB\) is not kept: larger than 1\.0 MiB/);
    }),
});
