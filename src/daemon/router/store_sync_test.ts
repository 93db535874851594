// The router follows a real store (files imported into a temporary directory; removed and replaced as
// `lode rm` and `lode import` do from another process) with models started instantly (fakes: the runner
// side is in tests/serve_store_test.ts): a removed model answers MODEL_NOT_FOUND at the next acquire and
// is unloaded once its leases are released, a name holding other bytes is loaded anew, a manifest
// rewritten with the same bytes keeps the model, and the store's watch unloads without any request.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { isLodeError, LodeError } from "../../errors.ts";
import type { SessionInfo } from "../../inference/backend.ts";
import { createGeneration } from "../../inference/generation.ts";
import { importModelFile } from "../../store/import_file.ts";
import { ModelStore } from "../../store/model_store.ts";
import { writeChatModel } from "../../../tests/support/chat_model.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import { type LoadedModel, ModelRouter, type StartModel } from "./model_router.ts";
import type { ModelStatus } from "./router.ts";
import { storeVersions } from "./stored_versions.ts";

const STORIES = fileURLToPath(new URL("../../../tests/fixtures/stories260K.gguf", import.meta.url));

/** A model "loaded" instantly from `path`; its generation answers with the path. */
function fakeModel(path: string): LoadedModel & { closed: boolean } {
  const exit = Promise.withResolvers<{ crashed: boolean }>();
  const info: SessionInfo = {
    path,
    architecture: "llama",
    contextSize: 512,
    trainContextSize: 512,
    threads: 1,
    hasChatTemplate: false,
    embeddingSize: 4,
    loadMs: 1,
  };
  const usage = {
    promptTokens: 1,
    generatedTokens: 1,
    loadMs: 1,
    timeToFirstTokenMs: 0,
    totalMs: 0,
    tokensPerSecond: 0,
  };
  const model = {
    closed: false,
    pid: 1,
    exited: exit.promise,
    capabilities: {} as LoadedModel["capabilities"],
    info,
    generate: () =>
      createGeneration(() => {
        if (model.closed) throw new LodeError("RUNNER_CRASHED", "closed");
        return Promise.resolve({ text: path, stopReason: "eos" as const, usage });
      }),
    chat: () => model.generate(),
    renderChat: () => Promise.resolve(""),
    embed: () => Promise.resolve([]),
    tokenize: () => Promise.resolve([]),
    detokenize: () => Promise.resolve(""),
    close: () => {
      model.closed = true;
      exit.resolve({ crashed: false });
      return Promise.resolve();
    },
  };
  return model;
}

interface World {
  store: ModelStore;
  router: ModelRouter;
  started: (LoadedModel & { closed: boolean })[];
  statuses: ModelStatus[];
  /** Resolves with the first status of `model` that `matches`, seen or to come. */
  status(model: string, matches: (s: ModelStatus) => boolean): Promise<ModelStatus>;
  other: string;
}

/**
 * A router on a real store with stories260K imported as `m`. `watch: false`: the store's changes are seen
 * only by acquires (the request-time check), not by the watch.
 */
async function withStoreRouter(
  options: { watch: boolean },
  body: (world: World) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const store = await ModelStore.open(`${dir}/store`);
    await importModelFile(store, STORIES, { name: "m" });
    const other = await writeChatModel(`${dir}/other.gguf`, { sizeBytes: 256 * 1024 });
    const started: (LoadedModel & { closed: boolean })[] = [];
    const start: StartModel = (path) => {
      const model = fakeModel(path);
      started.push(model);
      return Promise.resolve(model);
    };
    const versions = storeVersions(store);
    const router = new ModelRouter({
      store,
      versions: options.watch ? versions : { ...versions, watch: () => ({ close: () => {} }) },
      start,
      estimate: () => Promise.resolve(1),
      availableRam: () => Promise.resolve(undefined),
    });
    const statuses: ModelStatus[] = [];
    const waiting: {
      model: string;
      matches: (s: ModelStatus) => boolean;
      resolve: (s: ModelStatus) => void;
    }[] = [];
    router.onStatus((s) => {
      statuses.push(s);
      for (const w of waiting.filter((w) => w.model === s.model && w.matches(s))) w.resolve(s);
    });
    const status = (model: string, matches: (s: ModelStatus) => boolean) => {
      const seen = statuses.find((s) => s.model === model && matches(s));
      if (seen) return Promise.resolve(seen);
      const wait = Promise.withResolvers<ModelStatus>();
      waiting.push({ model, matches, resolve: wait.resolve });
      return wait.promise;
    };
    try {
      await body({ store, router, started, statuses, status, other });
    } finally {
      await router.close({ graceMs: 0 });
    }
  }, { prefix: "lode-store-sync-" });
}

const unloaded = (reason: string) => (s: ModelStatus) =>
  s.event.status === "unloaded" && s.event.reason === reason;

async function text(router: ModelRouter, model: string): Promise<string> {
  const lease = await router.acquire(model);
  try {
    return (await lease.session.generate("x").result).text;
  } finally {
    lease.release();
  }
}

Deno.test("a model removed from the store: MODEL_NOT_FOUND at once; its running lease finishes, then it is unloaded", async () => {
  await withStoreRouter({ watch: false }, async ({ store, router, started, status }) => {
    const lease = await router.acquire("m");
    await store.remove("m");
    const error = await router.acquire("m").catch((e) => e);
    assert.ok(isLodeError(error, "MODEL_NOT_FOUND"), String(error));
    // The request holding it goes on (its runner keeps the deleted bytes open); the model is listed as
    // loaded while it does, and never leased again.
    assert.equal((await lease.session.generate("x").result).text, started[0]!.info.path);
    assert.deepEqual((await router.models()).map((m) => [m.name, m.loaded]), [["m", true]]);
    assert.equal(started[0]!.closed, false);
    lease.release();
    await status("m", unloaded("removed"));
    assert.equal(started[0]!.closed, true);
    assert.deepEqual(await router.models(), []);
    assert.deepEqual(router.loadedNames(), []);
    assert.equal(started.length, 1);
  });
});

Deno.test("a name that holds other bytes is loaded anew, never served stale; the same bytes rewritten keep the model", async () => {
  await withStoreRouter({ watch: false }, async ({ store, router, started, status, other }) => {
    const first = await text(router, "m");
    await importModelFile(store, STORIES, { name: "m" }); // the manifest rewritten, the same blob
    assert.equal(await text(router, "m"), first);
    assert.equal(started.length, 1, "the same bytes: no reload");

    const { path } = await importModelFile(store, other, { name: "m" });
    assert.equal(await text(router, "m"), path, "the new file, at the first request after the import");
    await status("m", unloaded("changed"));
    assert.deepEqual(started.map((m) => m.closed), [true, false]);
    assert.deepEqual(router.loadedNames(), ["m"]);
  });
});

Deno.test("the store's watch: a removed idle model is unloaded without any request", async () => {
  await withStoreRouter({ watch: true }, async ({ store, router, started, status }) => {
    assert.equal(await text(router, "m"), started[0]!.info.path);
    await store.remove("m");
    await status("m", unloaded("removed"));
    assert.equal(started[0]!.closed, true);
    assert.deepEqual(router.loadedNames(), []);
  });
});

Deno.test("a load that fails after its phases were reported ends with load_failed (its code); a name never resolved reports nothing", async () => {
  await withStoreRouter({ watch: true }, async ({ store, router, statuses }) => {
    const missing = await router.acquire("nope").catch((e) => e);
    assert.ok(isLodeError(missing, "MODEL_NOT_FOUND"));
    assert.deepEqual(statuses.filter((s) => s.model === "nope"), []);

    const blob = store.layout.blobPath((await store.getManifest("m")).blob.slice("sha256:".length));
    await Deno.chmod(blob, 0o644);
    await Deno.writeTextFile(blob, "not a model");
    const failing = new ModelRouter({ store, versions: storeVersions(store), load: { threads: 1 } });
    try {
      const seen: ModelStatus[] = [];
      failing.onStatus((s) => seen.push(s));
      const error = await failing.acquire("m").catch((e) => e);
      assert.ok(isLodeError(error, "MODEL_LOAD_FAILED"), String(error));
      assert.deepEqual(seen.map((s) => s.event.status), ["loading_model", "load_failed"]);
      assert.deepEqual(seen[1]!.event, { status: "load_failed", code: error.code, message: error.message });
    } finally {
      await failing.close({ graceMs: 0 });
    }
  });
});

Deno.test("storeVersions: one stat tells a manifest removed or rewritten; read is null without the manifest or a blob", async () => {
  await withTempDir(async (dir) => {
    const store = await ModelStore.open(dir);
    const versions = storeVersions(store);
    assert.equal(await versions.read("m"), null);
    const { path } = await importModelFile(store, STORIES, { name: "m" });
    const first = (await versions.read("m", { path: true }))!;
    assert.equal(first.path, path);
    assert.equal(versions.unchanged("m", first), true);
    await importModelFile(store, STORIES, { name: "m" });
    assert.equal(versions.unchanged("m", first), false, "rewritten (a new file)");
    const second = (await versions.read("m"))!;
    assert.equal(second.digest, first.digest, "the same bytes");
    await Deno.remove(path);
    assert.equal(await versions.read("m"), null, "its blob is missing");
    await Deno.remove(store.layout.manifestPath("m"));
    assert.equal(versions.unchanged("m", second), false);
    assert.equal(await versions.read("m"), null);
  });
});
