// The router's naming and per-model settings with models started instantly (fakes; the real runners and a
// real daemon are in model_router_runner_test.ts and tests/serve_router_test.ts): a reference and its store
// name join one entry even when both load at once, concurrent loads asking different contexts settle, and a
// reload that fails leaves the model unloaded, its next load a plain one.
import assert from "node:assert/strict";
import { isLodeError, LodeError } from "../errors.ts";
import type { Session, SessionInfo } from "../inference/backend.ts";
import { ModelRouter, type StartModel } from "./model_router.ts";
import type { ModelStatus } from "./router.ts";

function fakeModel(path: string, contextSize: number) {
  const exit = Promise.withResolvers<{ crashed: boolean }>();
  const info: SessionInfo = {
    path,
    architecture: "llama",
    contextSize,
    trainContextSize: 4096,
    threads: 1,
    hasChatTemplate: false,
    embeddingSize: 4,
    loadMs: 1,
  };
  const unused = () => {
    throw new Error("not used");
  };
  const session = {
    capabilities: {} as Session["capabilities"],
    info,
    generate: unused,
    chat: unused,
    renderChat: unused,
    embed: unused,
    tokenize: unused,
    detokenize: unused,
    close: () => Promise.resolve(exit.resolve({ crashed: false })),
  } as Session;
  return { ...session, info, exited: exit.promise, close: session.close };
}

const store = {
  modelPathOf: (name: string) => {
    if (name === "m") return new Promise<string>((r) => setTimeout(() => r("/fake/m.gguf"), 10));
    if (name.includes(":")) return Promise.reject(new LodeError("INVALID_REF", "not a name"));
    return Promise.reject(new LodeError("MODEL_NOT_FOUND", `no model named "${name}"`));
  },
  list: () => Promise.resolve({ models: [], problems: [] }),
};

async function withRouter(
  options: { failContext?: number },
  body: (router: ModelRouter, started: number[], statuses: ModelStatus[]) => Promise<void>,
): Promise<void> {
  const started: number[] = [];
  const statuses: ModelStatus[] = [];
  const start: StartModel = async (path, o) => {
    await new Promise((r) => setTimeout(r, 5));
    const ctx = o.load.contextSize ?? 2048;
    if (ctx === options.failContext) throw new LodeError("MODEL_LOAD_FAILED", "too big");
    started.push(ctx);
    return fakeModel(path, ctx);
  };
  const router = new ModelRouter({
    store,
    storedName: (ref) => Promise.resolve(ref === "https://h/m.gguf" ? "m" : null),
    start,
    estimate: () => Promise.resolve(1),
    availableRam: () => Promise.resolve(undefined),
  });
  router.onStatus((s) => statuses.push(s));
  try {
    await body(router, started, statuses);
  } finally {
    await router.close({ graceMs: 0 });
  }
}

Deno.test("a reference and its store name loading at once: one load, one entry, leases named by the store name", async () => {
  await withRouter({}, async (router, started, statuses) => {
    const leases = await Promise.all([router.acquire("https://h/m.gguf"), router.acquire("m")]);
    assert.deepEqual(started, [2048]);
    assert.deepEqual(leases.map((l) => l.model), ["m", "m"]);
    assert.deepEqual(router.loadedNames(), ["m"]);
    assert.equal(router.nameOf("https://h/m.gguf"), "m");
    assert.ok(statuses.every((s) => s.model === "m"), JSON.stringify(statuses));
    for (const l of leases) l.release();
    assert.equal(await router.unload("https://h/m.gguf"), true);
    assert.deepEqual(router.loadedNames(), []);
  });
});

Deno.test("concurrent acquires asking different contexts each get theirs; a failed reload leaves a plain next load", async () => {
  await withRouter({ failContext: 999 }, async (router, started) => {
    const [a, b] = await Promise.all([
      router.acquire("m", { contextSize: 256 }).then((l) => (l.release(), l.session.info.contextSize)),
      router.acquire("m", { contextSize: 512 }).then((l) => (l.release(), l.session.info.contextSize)),
    ]);
    assert.deepEqual([a, b], [256, 512]);
    assert.ok(started.length >= 2 && started.length <= 3, String(started));

    const failed = await router.acquire("m", { contextSize: 999 }).catch((e) => e);
    assert.ok(isLodeError(failed, "MODEL_LOAD_FAILED"), String(failed));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(router.loadedNames(), [], "the old context was given up for the reload");
    const statuses: ModelStatus[] = [];
    router.onStatus((s) => statuses.push(s));
    const plain = await router.acquire("m");
    assert.equal(plain.session.info.contextSize, 2048);
    assert.ok(statuses.every((s) => s.event.status !== "restarting"), "a plain load, not a restart");
    plain.release();
  });
});
