// Tokenizing in the daemon, with real runner processes, the real model and node-llama-cpp's
// vocabulary-only load in this process. A stopped (SIGSTOP) runner proves which side answered.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { isLodeError, LodeError } from "../../errors.ts";
import type { Vocabulary } from "../../inference/backend.ts";
import { createLlamaCppBackend } from "../../inference/llama_cpp_backend.ts";
import { importModelFile } from "../../store/import_file.ts";
import { ModelStore } from "../../store/model_store.ts";
import { childPids } from "../../../tests/support/child_pids.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import { ModelRouter } from "./model_router.ts";
import { startRunnerSession } from "../runner/runner_session.ts";
import { tokenizesInProcess, vocabularyOf, withVocabulary } from "./vocabulary_session.ts";

const MODEL = fileURLToPath(new URL("../../../tests/fixtures/stories260K.gguf", import.meta.url));
const TEXTS = ["Once upon a time", " a leading space", "é 漢字 🙂", ""];
const LOAD = { load: { threads: 1, gpu: "off" as const } };

/** `promise`, or a rejection after `ms` (a stopped runner never answers). */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) =>
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)
  );
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

Deno.test("tokenize answers from this process once the vocabulary is open, the same ids as the runner; a crash closes it", async () => {
  const backend = createLlamaCppBackend();
  const runner = await startRunnerSession(MODEL, LOAD);
  try {
    const expected = await Promise.all(TEXTS.map((t) => runner.tokenize(t)));
    const loaded = withVocabulary(runner, () => backend.loadVocabulary!(MODEL));
    assert.equal(await tokenizesInProcess(loaded), true);
    assert.deepEqual(await Promise.all(TEXTS.map((t) => loaded.tokenize(t))), expected);
    assert.equal(await loaded.detokenize(expected[0]!), TEXTS[0]);
    await assert.rejects(loaded.detokenize([-1]), (e) => isLodeError(e, "USAGE"));

    Deno.kill(runner.pid, "SIGSTOP"); // the runner cannot answer anything now
    try {
      assert.deepEqual(await within(2000, loaded.tokenize(TEXTS[0]!)), expected[0]);
    } finally {
      Deno.kill(runner.pid, "SIGCONT");
    }

    Deno.kill(runner.pid, "SIGKILL");
    assert.equal((await loaded.exited).crashed, true);
    assert.equal(vocabularyOf(loaded), undefined, "the vocabulary does not outlive its runner");
    await assert.rejects(loaded.tokenize(TEXTS[0]!), (e) => isLodeError(e, "RUNNER_CRASHED"));
    await loaded.close();
  } finally {
    await runner.close();
    await backend.close();
  }
  assert.deepEqual(await childPids(), []);
});

Deno.test("a vocabulary that cannot be opened leaves tokenize with the runner and says why; close closes both", async () => {
  const runner = await startRunnerSession(MODEL, LOAD);
  const errors: unknown[] = [];
  const loaded = withVocabulary(
    runner,
    () => Promise.reject(new LodeError("MODEL_LOAD_FAILED", "no vocabulary here")),
    { onError: (e) => errors.push(e) },
  );
  try {
    assert.equal(await tokenizesInProcess(loaded), false);
    assert.ok(isLodeError(errors[0], "MODEL_LOAD_FAILED"));
    assert.deepEqual(await loaded.tokenize(TEXTS[0]!), await runner.tokenize(TEXTS[0]!));
  } finally {
    await loaded.close();
  }
  assert.equal((await loaded.exited).crashed, false);
  assert.deepEqual(await childPids(), []);
});

Deno.test("close waits for a vocabulary still opening and closes it: nothing outlives the close", async () => {
  const backend = createLlamaCppBackend();
  const runner = await startRunnerSession(MODEL, LOAD);
  let opened: Vocabulary | undefined;
  const loaded = withVocabulary(runner, async () => {
    await runner.exited; // the vocabulary opens only once the runner is gone: after close() began
    return opened = await backend.loadVocabulary!(MODEL);
  });
  try {
    await loaded.close();
    assert.ok(opened, "close returned before the opening under way ended");
    assert.throws(() => opened!.tokenize(TEXTS[0]!), (e) => isLodeError(e, "INFERENCE_FAILED"));
    assert.equal(await tokenizesInProcess(loaded), false);
  } finally {
    await backend.close();
  }
  assert.deepEqual(await childPids(), []);
});

Deno.test("router.vocabulary: undefined until loaded, then tokenizing counts as a use that restarts the keep-alive", async () => {
  await withTempDir(async (dir) => {
    const store = await ModelStore.open(dir);
    await importModelFile(store, MODEL, { name: "m" });
    const backend = createLlamaCppBackend();
    const logs: string[] = [];
    // The router's clock: keep-alive time passes only when the test advances it.
    let now = 0;
    const timers: { fn: () => void; at: number; cancelled: boolean }[] = [];
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
    const advance = (ms: number) => {
      now += ms;
      for (const t of [...timers]) {
        if (!t.cancelled && t.at <= now) {
          t.cancelled = true;
          t.fn();
        }
      }
    };
    const router = new ModelRouter({
      store,
      ...LOAD,
      keepAliveMs: 600,
      clock,
      vocabulary: (p) => backend.loadVocabulary!(p),
      onLog: (_, line) => logs.push(line),
    });
    try {
      assert.equal(router.vocabulary("m"), undefined, "not loaded");
      const lease = await router.acquire("m"); // held while the vocabulary opens (~1 s): no keep-alive runs out
      for (let i = 0; i < 500 && router.vocabulary("m") === undefined; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const vocabulary = router.vocabulary("m");
      assert.ok(vocabulary, `the vocabulary opened after the load (${logs.join("; ")})`);
      lease.release();
      for (let used = 400; used <= 2000; used += 400) { // 3.3 keep-alives, tokenizing every 400 ms
        advance(400);
        const entry = (await router.models()).find((m) => m.name === "m"); // not a use
        assert.equal(entry?.loaded, true, `unloaded after ${used} ms of use`);
        router.vocabulary("m")!.tokenize(TEXTS[0]!); // as the daemon tokenizes: look up, then tokenize
      }
      advance(600);
      for (let i = 0; i < 100 && (await router.models()).some((m) => m.loaded); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(
        (await router.models()).find((m) => m.name === "m")?.loaded,
        false,
        "unloaded once unused",
      );
      assert.equal(router.vocabulary("m"), undefined);
    } finally {
      await router.close({ graceMs: 0 });
      await backend.close();
    }
    assert.deepEqual(await childPids(), []);
  }, { prefix: "lode-vocabulary-" });
});
