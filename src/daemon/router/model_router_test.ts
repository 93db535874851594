// The router's decisions (sharing, LRU, waiting for room, memory, keep-alive, crashes, close) with fake
// models started instantly, a fake store (distinct paths per name: a real store gives one blob to every
// name imported from one file) and injected sizes, free RAM and clock. model_router_runner_test.ts runs
// sharing, LRU eviction, keep-alive, a crash and close with real runner processes; runner_session_test.ts
// and runner_client_test.ts the runner's own failures (a death or an abort while starting or loading).
import assert from "node:assert/strict";
import { isLodeError, LodeError } from "../../errors.ts";
import type { Capabilities, Generation, SessionInfo, StatusEvent } from "../../inference/backend.ts";
import { createGeneration } from "../../inference/generation.ts";
import type { Manifest } from "../../store/manifest.ts";
import { type LoadedModel, ModelRouter, type ModelRouterOptions, type StartModel } from "./model_router.ts";
import type { ModelStatus } from "./router.ts";
import { CPU_CAPABILITIES } from "../../../tests/support/loaded_frame.ts";

const MiB = 1024 * 1024;
const CAPS: Capabilities = { ...CPU_CAPABILITIES, backend: "fake" };

/** A model "loaded" instantly; `crash()` ends it as a dead runner would. */
class FakeModel implements LoadedModel {
  static nextPid = 1000;
  readonly pid = FakeModel.nextPid++;
  readonly capabilities = CAPS;
  readonly info: SessionInfo;
  closed = false;
  readonly #exit = Promise.withResolvers<{ crashed: boolean }>();
  readonly exited = this.#exit.promise;
  constructor(readonly path: string) {
    this.info = {
      path,
      architecture: "llama",
      contextSize: 512,
      trainContextSize: 512,
      threads: 1,
      hasChatTemplate: false,
      embeddingSize: 4,
      loadMs: 1,
    };
  }
  generate(prompt: string): Generation {
    return createGeneration((emit) => {
      if (this.closed) throw new LodeError("RUNNER_CRASHED", "gone");
      emit(prompt);
      const usage = {
        promptTokens: 1,
        generatedTokens: 1,
        loadMs: 1,
        timeToFirstTokenMs: 0,
        totalMs: 0,
        tokensPerSecond: 0,
      };
      return Promise.resolve({ text: prompt, stopReason: "eos" as const, usage });
    });
  }
  chat(): Generation {
    return this.generate("chat");
  }
  renderChat(): Promise<string> {
    return Promise.resolve("");
  }
  embed(): Promise<number[][]> {
    return Promise.resolve([[0, 0, 0, 1]]);
  }
  tokenize(): Promise<number[]> {
    return Promise.resolve([1]);
  }
  detokenize(): Promise<string> {
    return Promise.resolve("");
  }
  close(): Promise<void> {
    this.closed = true;
    this.#exit.resolve({ crashed: false });
    return Promise.resolve();
  }
  crash(): void {
    this.closed = true;
    this.#exit.resolve({ crashed: true });
  }
}

interface World {
  router: ModelRouter;
  started: FakeModel[];
  statuses: ModelStatus[];
  /** Models currently loaded (started and not closed), by path. */
  live(): string[];
}

function fakeStore(names: string[]): ModelRouterOptions["store"] {
  return {
    modelPathOf: (name: string) => {
      if (names.includes(name)) return Promise.resolve(`/fake/${name}.gguf`);
      return Promise.reject(new LodeError("MODEL_NOT_FOUND", `no model named "${name}"`));
    },
    list: () =>
      Promise.resolve({
        models: names.map((name) => ({ name, blob: `sha256:${"0".repeat(64)}`, size_bytes: 10 }) as Manifest),
        problems: [],
      }),
  };
}

async function withRouter(
  options: Partial<ModelRouterOptions> & { names?: string[]; startDelayMs?: number },
  body: (world: World) => Promise<void>,
): Promise<void> {
  const started: FakeModel[] = [];
  const statuses: ModelStatus[] = [];
  const start: StartModel = async (path, o) => {
    o.onStatus({ status: "loading_model", phase: "mmap", path });
    if (options.startDelayMs) {
      await new Promise((r) => setTimeout(r, options.startDelayMs));
      if (o.signal.aborted) throw new LodeError("INTERRUPTED", "aborted");
    }
    const model = new FakeModel(path);
    started.push(model);
    return model;
  };
  const router = new ModelRouter({
    store: fakeStore(options.names ?? ["a", "b", "c"]),
    start,
    estimate: () => Promise.resolve(100 * MiB),
    availableRam: () => Promise.resolve(undefined),
    ...options,
  });
  router.onStatus((s) => statuses.push(s));
  const live = () => started.filter((m) => !m.closed).map((m) => m.path.replace(/^\/fake\/|\.gguf$/g, ""));
  try {
    await body({ router, started, statuses, live });
  } finally {
    await router.close({ graceMs: 0 });
  }
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    assert.ok(isLodeError(e), String(e));
    return e.code;
  }
  return "resolved";
}

const tick = () => new Promise((r) => setTimeout(r, 5));

Deno.test("concurrent acquires share one load; status: checking_local, the start's phases, ready", async () => {
  await withRouter({ startDelayMs: 20 }, async ({ router, started, statuses }) => {
    const leases = await Promise.all([router.acquire("a"), router.acquire("a"), router.acquire("a")]);
    assert.equal(started.length, 1);
    assert.ok(leases.every((l) => l.model === "a"));
    assert.deepEqual(
      statuses.map((s) => [s.model, s.event.status, "phase" in s.event ? s.event.phase : null]),
      [
        ["a", "loading_model", "checking_local"],
        ["a", "loading_model", "mmap"],
        ["a", "ready", null],
      ],
    );
    const models = await router.models();
    assert.deepEqual(models.map((m) => [m.name, m.loaded, m.expires_in_ms ?? null]), [
      ["a", true, null], // leased: no expiry
      ["b", false, null],
      ["c", false, null],
    ]);
    assert.deepEqual(models[0]!.capabilities, CAPS);
    // A lease's session.close() releases the lease, never the shared model.
    await leases[0]!.session.close();
    leases[1]!.release();
    leases[1]!.release(); // idempotent: one release per lease
    leases[2]!.release();
    assert.equal(started[0]!.closed, false);
    const expires = (await router.models())[0]!.expires_in_ms!;
    assert.ok(expires > 290_000 && expires <= 300_000, `${expires}`); // default keep-alive 5 min
    assert.equal((await router.load("a")).loaded, true);
    assert.equal(started.length, 1);
  });
});

Deno.test("maxLoaded: the least recently used idle model is evicted; leased ones never", async () => {
  await withRouter({ maxLoaded: 2 }, async ({ router, live }) => {
    (await router.acquire("a")).release();
    (await router.acquire("b")).release();
    (await router.acquire("a")).release(); // a is now more recent than b
    (await router.acquire("c")).release();
    assert.deepEqual(live().sort(), ["a", "c"]);
    const leaseC = await router.acquire("c");
    (await router.acquire("b")).release(); // evicts a (idle), not c (leased, and more recent anyway)
    assert.deepEqual(live().sort(), ["b", "c"]);
    leaseC.release();
  });
});

Deno.test("every slot leased: a new load waits for a release (FIFO); its signal ends the wait", async () => {
  await withRouter({ maxLoaded: 1 }, async ({ router, live }) => {
    const a = await router.acquire("a");
    let gotB = false;
    const b = router.acquire("b").then((l) => {
      gotB = true;
      return l;
    });
    const controller = new AbortController();
    const c = router.acquire("c", { signal: controller.signal });
    await tick();
    assert.equal(gotB, false);
    controller.abort();
    assert.equal(await code(c), "INTERRUPTED");
    a.release();
    const leaseB = await b;
    assert.deepEqual(live(), ["b"]);
    leaseB.release();
  });
});

Deno.test("memory budget: idle models are evicted to fit; a model bigger than the budget fails at once", async () => {
  const sizes: Record<string, number> = { a: 300 * MiB, b: 300 * MiB, c: 700 * MiB, huge: 2000 * MiB };
  await withRouter({
    names: Object.keys(sizes),
    memoryBudget: 1000 * MiB,
    maxLoaded: 10,
    estimate: (path) => Promise.resolve(sizes[path.replace(/^\/fake\/|\.gguf$/g, "")]!),
  }, async ({ router, live }) => {
    (await router.acquire("a")).release();
    (await router.acquire("b")).release();
    assert.deepEqual(live(), ["a", "b"]);
    (await router.acquire("c")).release(); // 300 + 300 + 700 > 1000: a (LRU) goes, then 300 + 700 fits
    assert.deepEqual(live(), ["b", "c"]);
    const error = await router.acquire("huge").catch((e) => e);
    assert.ok(isLodeError(error, "INSUFFICIENT_MEMORY"));
    assert.equal(error.details.needed_bytes, 2000 * MiB);
    assert.equal(error.details.budget_bytes, 1000 * MiB);
    assert.deepEqual(live(), ["b", "c"], "a model that can never fit evicts nothing");
  });
});

Deno.test("without a budget, free RAM decides (what loaded models would give back counts)", async () => {
  const total = 250 * MiB;
  let live: () => string[] = () => [];
  const sizes: Record<string, number> = { a: 100 * MiB, b: 100 * MiB, c: 100 * MiB, huge: 500 * MiB };
  const sizeOf = (name: string) => sizes[name.replace(/^\/fake\/|\.gguf$/g, "")]!;
  await withRouter({
    names: Object.keys(sizes),
    maxLoaded: 10,
    estimate: (path) => Promise.resolve(sizeOf(path)),
    availableRam: () => Promise.resolve(total - live().reduce((sum, name) => sum + sizeOf(name), 0)),
  }, async (world) => {
    live = world.live;
    (await world.router.acquire("a")).release();
    (await world.router.acquire("b")).release(); // 100 of 150 free
    assert.deepEqual(live(), ["a", "b"]);
    (await world.router.acquire("c")).release(); // 100 > 50 free: a (LRU) is evicted, which frees enough
    assert.deepEqual(live(), ["b", "c"]);
    assert.equal(await code(world.router.acquire("huge")), "INSUFFICIENT_MEMORY"); // 500 > 50 + 200
    assert.deepEqual(live(), ["b", "c"]);
  });
});

Deno.test("keep-alive: an idle model is stopped after keepAliveMs; using it again restarts the clock", async () => {
  const timers: { fn: () => void; at: number; cancelled: boolean }[] = [];
  let now = 0;
  const clock = {
    now: () => now,
    setTimeout: (fn: () => void, ms: number) => {
      const t = { fn, at: now + ms, cancelled: false };
      timers.push(t);
      return t;
    },
    clearTimeout: (t: unknown) => {
      if (t) (t as { cancelled: boolean }).cancelled = true;
    },
  };
  const advance = async (ms: number) => {
    now += ms;
    for (const t of timers) {
      if (!t.cancelled && t.at <= now) {
        t.cancelled = true;
        t.fn();
      }
    }
    await tick();
  };
  await withRouter({ keepAliveMs: 1000, clock }, async ({ router, live }) => {
    (await router.acquire("a")).release();
    await advance(600);
    assert.equal((await router.models())[0]!.expires_in_ms, 400);
    (await router.acquire("a")).release(); // restarts the keep-alive
    await advance(600);
    assert.deepEqual(live(), ["a"]);
    await advance(500);
    assert.deepEqual(live(), []);
    assert.equal((await router.models())[0]!.loaded, false);
  });
});

Deno.test("a crashed model: restarting is reported, the next acquire loads it again (phases as restarting)", async () => {
  await withRouter({}, async ({ router, started, statuses }) => {
    const lease = await router.acquire("a");
    started[0]!.crash();
    await tick();
    assert.equal((await router.models())[0]!.loaded, false);
    lease.release(); // releasing a lease of a dead model is harmless
    statuses.length = 0;
    const again = await router.acquire("a");
    assert.equal(started.length, 2);
    assert.deepEqual(statuses.map((s) => [s.event.status, "phase" in s.event ? s.event.phase : null]), [
      ["restarting", "checking_local"],
      ["restarting", "mmap"],
      ["ready", null],
    ]);
    again.release();
  });
});

Deno.test("names: MODEL_NOT_FOUND, or the provide hook's file (its status forwarded); a failed load is retried", async () => {
  const asked: string[] = [];
  await withRouter({
    provide: (name, { onStatus }) => {
      asked.push(name);
      if (name !== "pulled") return Promise.resolve(null);
      onStatus({
        status: "loading_model",
        phase: "download",
        downloaded_bytes: 5,
        total_bytes: 10,
        source_url: "u",
      });
      return Promise.resolve({ name: "pulled", path: "/fake/pulled.gguf" });
    },
  }, async ({ router, started, statuses }) => {
    assert.equal(await code(router.acquire("nope")), "MODEL_NOT_FOUND");
    const lease = await router.acquire("pulled");
    assert.equal(started.at(-1)!.path, "/fake/pulled.gguf");
    assert.deepEqual(asked, ["nope", "pulled"]);
    assert.ok(
      statuses.some((s) => s.model === "pulled" && "phase" in s.event && s.event.phase === "download"),
    );
    lease.release();
  });
  let fail = true;
  await withRouter({
    estimate: () => fail ? Promise.reject(new LodeError("MODEL_LOAD_FAILED", "bad")) : Promise.resolve(1),
  }, async ({ router }) => {
    assert.equal(await code(router.acquire("a")), "MODEL_LOAD_FAILED");
    fail = false;
    (await router.acquire("a")).release();
  });
});

Deno.test("a shared load is abandoned only when every acquirer aborted", async () => {
  await withRouter({ startDelayMs: 30 }, async ({ router, started }) => {
    const one = new AbortController();
    const two = new AbortController();
    const p1 = router.acquire("a", { signal: one.signal });
    const p2 = router.acquire("a", { signal: two.signal });
    one.abort();
    assert.equal(await code(p1), "INTERRUPTED");
    (await p2).release();
    assert.equal(started.length, 1);

    const three = new AbortController();
    const p3 = router.acquire("b", { signal: three.signal });
    three.abort();
    assert.equal(await code(p3), "INTERRUPTED");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(started.length, 1, "b's load was abandoned before it started a model");
  });
});

Deno.test("close: leases get the grace period, then everything stops; later acquires are DRAINING", async () => {
  const statuses: StatusEvent[] = [];
  // The real timers, each recording whether it fired or was cleared: the grace's tells how close ended.
  type Timer = { ms: number; fired: boolean; cleared: boolean; id?: ReturnType<typeof setTimeout> };
  const timers: Timer[] = [];
  const clock = {
    now: () => performance.now(),
    setTimeout: (fn: () => void, ms: number) => {
      const t: Timer = { ms, fired: false, cleared: false };
      t.id = setTimeout(() => {
        t.fired = true;
        fn();
      }, ms);
      timers.push(t);
      return t;
    },
    clearTimeout: (t: unknown) => {
      if (!t) return;
      (t as Timer).cleared = true;
      clearTimeout((t as Timer).id);
    },
  };
  await withRouter({ clock }, async ({ router, live }) => {
    router.onStatus((s) => statuses.push(s.event));
    const lease = await router.acquire("a");
    (await router.acquire("b")).release();
    setTimeout(() => lease.release(), 30);
    await router.close({ graceMs: 5000 });
    const grace = timers.filter((t) => t.ms === 5000);
    assert.equal(grace.length, 1);
    assert.ok(grace[0]!.cleared && !grace[0]!.fired, "close waited for the lease, not the whole grace");
    assert.deepEqual(live(), []);
    assert.equal(await code(router.acquire("a")), "DRAINING");
  });
  await withRouter({}, async ({ router, live }) => {
    await router.acquire("a"); // never released
    await router.close({ graceMs: 20 });
    assert.deepEqual(live(), []);
  });
});
