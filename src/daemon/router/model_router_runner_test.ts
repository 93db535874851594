// The router with real runner processes and the real model: stories260K imported under two names into a
// temporary store. Each runner start costs ~1 s (Deno + node-llama-cpp), so the tests share what they can.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { isLodeError } from "../../errors.ts";
import { importModelFile } from "../../store/import_file.ts";
import { ModelStore } from "../../store/model_store.ts";
import { childPids, processAlive } from "../../../tests/support/child_pids.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import { ModelRouter, type ModelRouterOptions } from "./model_router.ts";
import type { ModelStatus } from "./router.ts";

const MODEL = fileURLToPath(new URL("../../../tests/fixtures/stories260K.gguf", import.meta.url));
const PROMPT = "Once upon a time";
const EXPECTED =
  ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";

async function withStoreRouter(
  options: Partial<ModelRouterOptions>,
  body: (router: ModelRouter, statuses: ModelStatus[]) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const store = await ModelStore.open(dir);
    for (const name of ["one", "two"]) await importModelFile(store, MODEL, { name });
    const router = new ModelRouter({ store, load: { threads: 1, gpu: "off" }, ...options });
    const statuses: ModelStatus[] = [];
    router.onStatus((s) => statuses.push(s));
    try {
      await body(router, statuses);
    } finally {
      await router.close({ graceMs: 0 });
    }
    assert.deepEqual(await childPids(), [], "close() leaves no runner process");
  }, { prefix: "lode-router-" });
}

const phases = (statuses: ModelStatus[], model: string) =>
  statuses.filter((s) => s.model === model).map((s) =>
    "phase" in s.event ? `${s.event.status}:${s.event.phase}` : s.event.status
  );

Deno.test("concurrent acquires share one runner; maxLoaded 1: the idle model's runner is stopped for the next", async () => {
  await withStoreRouter({ maxLoaded: 1 }, async (router, statuses) => {
    const leases = await Promise.all([router.acquire("one"), router.acquire("one"), router.acquire("one")]);
    const [first] = await childPids();
    assert.equal((await childPids()).length, 1, "three acquires, one runner");
    assert.deepEqual(phases(statuses, "one"), [
      "loading_model:checking_local",
      "loading_model:mmap",
      "loading_model:kv_cache",
      "capabilities",
      "ready",
    ]);
    const texts = await Promise.all(
      leases.map((l) => l.session.generate(PROMPT, { maxTokens: 40, temperature: 0 }).result),
    );
    assert.deepEqual(texts.map((r) => r.text), [EXPECTED, EXPECTED, EXPECTED]);
    for (const l of leases) l.release();

    const two = await router.acquire("two");
    assert.equal(await processAlive(first!), false, "one's runner was evicted (LRU) to load two");
    assert.equal((await childPids()).length, 1);
    assert.equal((await two.session.generate(PROMPT, { maxTokens: 40 }).result).text, EXPECTED);
    assert.deepEqual((await router.models()).map((m) => [m.name, m.loaded]), [["one", false], ["two", true]]);
    two.release();
  });
});

Deno.test("keep-alive: an idle runner stops after keepAliveMs", async () => {
  await withStoreRouter({ keepAliveMs: 300 }, async (router) => {
    const entry = await router.load("one");
    assert.equal(entry.loaded, true);
    assert.equal(entry.context_size, 2048);
    const [pid] = await childPids();
    assert.ok((await router.models())[0]!.expires_in_ms! <= 300);
    const deadline = performance.now() + 30_000;
    while (await processAlive(pid!)) {
      assert.ok(performance.now() < deadline, "the runner outlived its keep-alive");
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await router.models())[0]!.loaded, false);
  });
});

Deno.test("kill -9 of a runner mid-generation: RUNNER_CRASHED, restarting, the next acquire reloads and generates", async () => {
  await withStoreRouter({}, async (router, statuses) => {
    const lease = await router.acquire("one");
    const [pid] = await childPids();
    const generation = lease.session.generate(PROMPT, { temperature: 0 }); // ~2000 tokens: seconds
    let chunks = 0;
    const error = await (async () => {
      for await (const _ of generation) if (++chunks === 3) Deno.kill(pid!, "SIGKILL");
    })().then(() => null, (e) => e);
    assert.ok(isLodeError(error, "RUNNER_CRASHED"), String(error));
    lease.release();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(phases(statuses, "one").at(-1), "restarting:checking_local");
    assert.equal((await router.models())[0]!.loaded, false);

    statuses.length = 0;
    const again = await router.acquire("one");
    const [newPid] = await childPids();
    assert.notEqual(newPid, pid);
    assert.deepEqual(phases(statuses, "one"), [
      "restarting:checking_local",
      "restarting:mmap",
      "restarting:kv_cache",
      "capabilities",
      "ready",
    ]);
    assert.equal((await again.session.generate(PROMPT, { maxTokens: 40 }).result).text, EXPECTED);
    again.release();
  });
});

Deno.test("close() with a generation running: it ends (abort) after the grace, no runner is left", async () => {
  await withStoreRouter({ maxLoaded: 2 }, async (router) => {
    const [one, two] = await Promise.all([router.acquire("one"), router.acquire("two")]);
    assert.equal((await childPids()).length, 2);
    two.release();
    const generation = one.session.generate(PROMPT, { temperature: 0 });
    for await (const _ of generation) break; // running: wait for its first chunk
    const running = one.session.generate(PROMPT, { temperature: 0 });
    await router.close({ graceMs: 200 });
    // Cut short, not run to its end (stories260K writes ~2000 tokens without maxTokens).
    const result = await running.result.catch((e) => e);
    assert.ok(result.stopReason === "abort" || isLodeError(result), String(result));
    assert.deepEqual(await childPids(), []);
    assert.ok(isLodeError(await router.acquire("one").catch((e) => e), "DRAINING"));
  });
});

Deno.test("settings: a context asked is loaded; a request without one uses it; another one reloads once the leases are released; keep-alive 0 unloads when idle", async () => {
  await withStoreRouter({}, async (router, statuses) => {
    const held = await router.acquire("one", { contextSize: 256 });
    assert.equal(held.session.info.contextSize, 256);
    const [pid] = await childPids();
    const plain = await router.acquire("one"); // no settings: the model as it is loaded
    assert.equal(plain.session.info.contextSize, 256);
    plain.release();
    assert.equal((await router.models()).find((m) => m.name === "one")!.context_size, 256);
    assert.deepEqual(await childPids(), [pid]);

    statuses.length = 0;
    let reloaded = false;
    const bigger = router.acquire("one", { contextSize: 512 }).then((l) => (reloaded = true, l));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(reloaded, false, "the reload waits for the lease held");
    assert.deepEqual(await childPids(), [pid]);
    assert.equal((await held.session.generate(PROMPT, { maxTokens: 40 }).result).text, EXPECTED);
    assert.deepEqual(router.loadedNames(), ["one"]);
    held.release();
    const lease = await bigger;
    assert.equal(lease.session.info.contextSize, 512);
    assert.equal(await processAlive(pid!), false, "the old runner was stopped");
    assert.equal((await childPids()).length, 1);
    assert.deepEqual(phases(statuses, "one"), [
      "restarting:checking_local",
      "restarting:mmap",
      "restarting:kv_cache",
      "capabilities",
      "ready",
    ]);
    assert.ok(
      statuses.filter((s) => s.event.status === "restarting").every((s) => s.reason === "context_size"),
    );
    const kv = statuses.find((s) => "phase" in s.event && s.event.phase === "kv_cache")!.event;
    assert.equal("n_ctx" in kv && kv.n_ctx, 512);
    assert.equal((await lease.session.generate(PROMPT, { maxTokens: 40 }).result).text, EXPECTED);
    lease.release();

    const once = await router.acquire("one", { keepAliveMs: 0 });
    assert.equal(once.keepAliveMs, 0);
    const [last] = await childPids();
    once.release();
    const deadline = performance.now() + 30_000;
    while (await processAlive(last!)) {
      assert.ok(performance.now() < deadline, "keep-alive 0: the runner outlived its last lease");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(router.loadedNames(), []);
    const entry = await router.load("one"); // a new load: the router's defaults again
    assert.equal(entry.context_size, 2048);
    assert.ok(entry.expires_in_ms! > 60_000);
  });
});
