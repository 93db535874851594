// The router's naming and per-model settings with models started instantly (fakes; the real runners and a
// real daemon are in model_router_runner_test.ts and tests/serve_router_test.ts): a reference and its store
// name join one entry even when both load at once, concurrent loads asking different contexts settle, and a
// reload that fails brings the model back as it was.
import assert from "node:assert/strict";
import { isLodeError, LodeError } from "../../errors.ts";
import type { Session, SessionInfo } from "../../inference/backend.ts";
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

Deno.test("concurrent acquires asking different contexts each get theirs", async () => {
  await withRouter({}, async (router, started) => {
    const [a, b] = await Promise.all([
      router.acquire("m", { contextSize: 256 }).then((l) => (l.release(), l.session.info.contextSize)),
      router.acquire("m", { contextSize: 512 }).then((l) => (l.release(), l.session.info.contextSize)),
    ]);
    assert.deepEqual([a, b], [256, 512]);
    assert.ok(started.length >= 2 && started.length <= 3, String(started));
  });
});

Deno.test("a failed reload brings the model back as it was; a request naming no context waits for that", async () => {
  await withRouter({ failContext: 999 }, async (router, started, statuses) => {
    (await router.acquire("m", { contextSize: 512, keepAliveMs: 60_000 })).release();
    statuses.length = 0;
    const failed = router.acquire("m", { contextSize: 999 }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 0)); // the reload has begun: a plain request joins it
    const plain = router.acquire("m");
    assert.ok(isLodeError(await failed, "MODEL_LOAD_FAILED"), "the request asking 999 gets why");
    const lease = await plain; // not the reload's failure: the model as it was
    assert.equal(lease.session.info.contextSize, 512);
    lease.release();
    assert.deepEqual(started, [512, 512]);
    assert.deepEqual(router.loadedNames(), ["m"]);
    const entry = (await router.models()).find((m) => m.name === "m");
    assert.ok(entry?.expires_in_ms! > 50_000, `its keep-alive too: ${entry?.expires_in_ms}`);
    const seen = statuses.map((s) => `${s.event.status}${s.reason ? `/${s.reason}` : ""}`);
    // The failed reload ends with its error; the model is then loaded back.
    assert.deepEqual(seen, ["restarting/context_size", "load_failed", "restarting/reload_failed", "ready"]);
    const failure = statuses.find((s) => s.event.status === "load_failed")!.event;
    assert.deepEqual(failure, { status: "load_failed", code: "MODEL_LOAD_FAILED", message: "too big" });

    // A reload abandoned by the only request that asked for it: back as it was too.
    const asker = new AbortController();
    const abandoned = router.acquire("m", { contextSize: 1024, signal: asker.signal }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 0));
    asker.abort();
    assert.ok(isLodeError(await abandoned, "INTERRUPTED"), String(await abandoned));
    const again = await router.acquire("m");
    assert.equal(again.session.info.contextSize, 512);
    again.release();
    // (the 1024 runner may have started before the request left: it is closed, and not counted here)
    assert.deepEqual(started.filter((c) => c !== 1024), [512, 512, 512]);
    assert.deepEqual(router.loadedNames(), ["m"]);

    // Failing again while the model is unloaded: nothing to bring back.
    await router.unload("m");
    assert.ok(
      isLodeError(await router.acquire("m", { contextSize: 999 }).catch((e) => e), "MODEL_LOAD_FAILED"),
    );
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(router.loadedNames(), []);
  });
});
