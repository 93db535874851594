/**
 * `lode push NAME oci://…` against a real registry: Debian's docker-registry (distribution 2.8) on loopback
 * with TLS and Bearer token auth (the tests' token server) or htpasswd Basic auth; the real CLI in child
 * processes pushes stories260K from one store, pulls it into another and runs it; `skopeo` (when
 * installed) reads what was pushed.
 */
import assert from "node:assert/strict";
import { OCI_USER, ociRegistryMissing } from "./support/oci_registry.ts";
import {
  importStories,
  pushEvents,
  pushWorld,
  skopeoFor,
  skopeoMissing,
  STORIES_PATH as FIXTURE,
} from "./support/oci_push_world.ts";
import { CREDS, withRegistry } from "./support/oci_world.ts";
import { STORIES_SHA } from "./support/stories_lockfile.ts";
import { LodeError } from "../src/errors.ts";
import { pushModel } from "../src/registry/oci/oci_push.ts";
import type { PushEvent } from "../src/events/push_event.ts";
import { ModelStore } from "../src/store/model_store.ts";

const missing = await ociRegistryMissing();
if (missing) console.log(`skipped: oci_push_test.ts: ${missing}`);

const STORIES_SIZE = (await Deno.stat(FIXTURE)).size;

Deno.test({
  name:
    "oci push: stories260K as ModelPack (Bearer token), pulled into another store and run; again: all skipped",
  ignore: missing !== null,
  fn: () =>
    withRegistry("token", async ({ reg, lode, dir }) => {
      await importStories({ lode });
      const ref = `oci://${reg.host}/models/stories:260k`;

      // Without credentials: ACCESS_DENIED naming the registry, nothing printed of any secret.
      const denied = await lode(["push", "stories260K", ref, "--json"]);
      assert.equal(denied.code, 6, denied.stderr + denied.stdout);
      assert.match(denied.stdout + denied.stderr, /ACCESS_DENIED/);
      assert.ok((denied.stdout + denied.stderr).includes(reg.host));

      // A name the store lacks: MODEL_NOT_FOUND, before any request.
      const absent = await lode(["push", "no-such-model", ref, "--json"], CREDS);
      assert.match(absent.stdout + absent.stderr, /MODEL_NOT_FOUND/);
      assert.notEqual(absent.code, 0);

      const first = await lode(["push", "stories260K", ref, "--json"], CREDS);
      assert.equal(first.code, 0, first.stderr + first.stdout);
      assert.ok(!first.stdout.includes(OCI_USER.password) && !first.stderr.includes(OCI_USER.password));
      const firstEvents = pushEvents(first.stdout);
      const blobs = firstEvents.filter((e) => e.event === "push_blob");
      assert.equal(blobs.length, 2); // the model and the config
      assert.ok(blobs.every((b) => b.skipped === false));
      assert.ok(blobs.some((b) => b.digest === `sha256:${STORIES_SHA}` && b.filename === "stories260K.gguf"));
      const progress = firstEvents.filter((e) => e.event === "push_progress");
      assert.ok(progress.some((p) => p.digest === `sha256:${STORIES_SHA}` && p.done_bytes === p.total_bytes));
      const pushed = firstEvents.find((e) => e.event === "pushed")!;
      assert.equal(pushed.blobs_uploaded, 2);
      assert.match(String(pushed.digest), /^sha256:[0-9a-f]{64}$/);
      // The token server was asked for the push scope.
      assert.ok(reg.tokenRequests.some((t) => t.scope === "repository:models/stories:pull,push"));
      // The registry holds the model's bytes as they are in the store.
      const stored = await Deno.readFile(reg.blobPath(`sha256:${STORIES_SHA}`));
      assert.deepEqual(stored, await Deno.readFile(FIXTURE));

      // A second push: the registry has every blob, nothing is uploaded; the same manifest.
      const second = await lode(["push", "stories260K", ref, "--json"], CREDS);
      assert.equal(second.code, 0, second.stderr + second.stdout);
      const secondEvents = pushEvents(second.stdout);
      const again = secondEvents.filter((e) => e.event === "push_blob");
      assert.equal(again.length, 2);
      assert.ok(again.every((b) => b.skipped === true));
      assert.ok(!secondEvents.some((e) => e.event === "push_progress"));
      const pushedAgain = secondEvents.find((e) => e.event === "pushed")!;
      assert.equal(pushedAgain.blobs_uploaded, 0);
      assert.equal(pushedAgain.digest, pushed.digest);

      // The manifest as the registry serves it: ModelPack types, the filepath annotation, the config.
      const got = await reg.request("GET", "/v2/models/stories/manifests/260k", {
        headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
      });
      const manifest = await got.json();
      assert.equal(manifest.artifactType, "application/vnd.cncf.model.manifest.v1+json");
      assert.equal(manifest.config.mediaType, "application/vnd.cncf.model.config.v1+json");
      assert.deepEqual(manifest.layers, [{
        mediaType: "application/vnd.cncf.model.weight.v1.raw",
        digest: `sha256:${STORIES_SHA}`,
        size: (await Deno.stat(FIXTURE)).size,
        annotations: { "org.cncf.model.filepath": "stories260K.gguf" },
      }]);
      const configBlob = await reg.request("GET", `/v2/models/stories/blobs/${manifest.config.digest}`);
      const config = await configBlob.json();
      assert.equal(config.config.format, "gguf");
      assert.equal(config.config.architecture, "llama");
      assert.equal(config.config.quantization, "F32");
      assert.equal(config.config.paramSize, "292.8k");
      assert.deepEqual(config.modelfs.diffIds, [`sha256:${STORIES_SHA}`]);

      // Another store pulls it back and runs it.
      const other = CREDS;
      const pulled = await lode(["--store", `${dir}/other-store`, "pull", ref, "--name", "back"], other);
      assert.equal(pulled.code, 0, pulled.stderr + pulled.stdout);
      const run = await lode([
        "--store",
        `${dir}/other-store`,
        "run",
        "back",
        "Once upon a time",
        "-t",
        "0",
        "-n",
        "20",
        "--threads",
        "1",
      ], other);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(run.stdout.length > 20, run.stdout);
    }),
});

Deno.test({
  name: "oci push: skopeo inspect --raw reads the ModelPack manifest (Basic auth)",
  ignore: missing !== null || (await skopeoMissing()) !== null,
  fn: () =>
    withRegistry("basic", async ({ reg, lode, dir }) => {
      await importStories({ lode });
      const pushed = await lode(["push", "stories260K", `oci://${reg.host}/m/stories:v1`], CREDS);
      assert.equal(pushed.code, 0, pushed.stderr + pushed.stdout);
      assert.match(pushed.stdout, /pushed stories260K to oci:\/\//);
      const manifest = JSON.parse(
        await (await skopeoFor({ reg, dir })).inspectRaw(`${reg.host}/m/stories:v1`),
      );
      assert.equal(manifest.mediaType, "application/vnd.oci.image.manifest.v1+json");
      assert.equal(manifest.artifactType, "application/vnd.cncf.model.manifest.v1+json");
      assert.equal(manifest.layers[0].mediaType, "application/vnd.cncf.model.weight.v1.raw");
      assert.equal(manifest.layers[0].annotations["org.cncf.model.filepath"], "stories260K.gguf");
    }),
});

Deno.test({
  name: "oci push: an upload cut off after three chunks goes on from the registry's Range at the next push",
  ignore: missing !== null,
  fn: () =>
    withRegistry("basic", async ({ reg, lode, store: root }) => {
      await importStories({ lode });
      const store = await ModelStore.open(root);
      using push = pushWorld({ reg }, store);
      const ref = push.ref("m/stories:v1");
      const chunk = 64 * 1024;
      const effectsOf = (patchesBeforeFailure: number, ranges: string[], emitted: PushEvent[]) => {
        let patches = 0;
        return push.effects({
          send(method, url, init) {
            if (method === "PATCH") {
              if (++patches > patchesBeforeFailure) {
                throw new LodeError("NETWORK", `connection to ${url.host} failed: the test cut it`);
              }
              ranges.push(init.headers["content-range"]!);
            }
            return push.send(method, url, init);
          },
          emit: (e) => void emitted.push(e),
        });
      };
      const cutRanges: string[] = [];
      await assert.rejects(
        pushModel(store, "stories260K", ref, effectsOf(3, cutRanges, []), { chunkBytes: chunk }),
        (e: LodeError) => e.code === "NETWORK",
      );
      assert.deepEqual(cutRanges, [
        `0-${chunk - 1}`,
        `${chunk}-${2 * chunk - 1}`,
        `${2 * chunk}-${3 * chunk - 1}`,
      ]);

      const ranges: string[] = [];
      const emitted: PushEvent[] = [];
      const pushed = await pushModel(store, "stories260K", ref, effectsOf(Infinity, ranges, emitted), {
        chunkBytes: chunk,
      });
      assert.equal(ranges[0], `${3 * chunk}-${4 * chunk - 1}`); // the model's first chunk: where it stopped
      assert.deepEqual(emitted.find((e) => e.event === "push_progress"), {
        event: "push_progress",
        digest: `sha256:${STORIES_SHA}`,
        done_bytes: 3 * chunk,
        total_bytes: STORIES_SIZE,
      });
      assert.equal(pushed.blobs_uploaded, 2);
      assert.deepEqual(
        await Deno.readFile(reg.blobPath(`sha256:${STORIES_SHA}`)),
        await Deno.readFile(FIXTURE),
      );
      // No upload record is left.
      const left = await Array.fromAsync(Deno.readDir(`${root}/locks/uploads`));
      assert.deepEqual(left, []);
    }),
});

Deno.test({
  name: "oci push: a registry on plain http is pushed to only when its host is allowed with --allow-http",
  ignore: missing !== null,
  fn: () =>
    withRegistry("basic", async ({ reg, lode }) => {
      await importStories({ lode });
      const ref = `oci://${reg.host}/plain/m:v1`;
      const refused = await lode(["push", "stories260K", ref, "--json"], CREDS);
      assert.notEqual(refused.code, 0, refused.stdout);
      const r = await lode(["--allow-http", "127.0.0.1", "push", "stories260K", ref, "--json"], CREDS);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const pulled = await lode(
        ["--allow-http", "127.0.0.1", "pull", ref, "--name", "back", "--json"],
        CREDS,
      );
      assert.equal(pulled.code, 0, pulled.stdout + pulled.stderr);
    }, true),
});
