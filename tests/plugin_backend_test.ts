/**
 * A backend plugin's process as a lode {@link Backend} (src/inference/plugin_backend.ts), with the real
 * fixture plugins: text streamed as the plugin produces it, an abort that cancels the plugin's call (which
 * is answered, the process going on), failures tagged with the plugin and hook and carrying the
 * catalogue code the plugin named, a plugin that dies mid-stream, and the file checks lode makes itself.
 */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { isLodeError } from "../src/errors.ts";
import type { StatusEvent } from "../src/events/status_event.ts";
import { openPluginBackend } from "../src/inference/plugin_backend.ts";
import { withTempDir } from "./support/temp_dir.ts";

const SLOW = fromFileUrl(new URL("./fixtures/plugins/slow_backend", import.meta.url));
const ECHO = fromFileUrl(new URL("./fixtures/plugins/echo_backend", import.meta.url));

Deno.test("a backend plugin streams chunks as they come; an abort cancels its call, which is answered", async () => {
  await withTempDir(async (dir) => {
    const model = `${dir}/m.slow`;
    await Deno.writeTextFile(model, "");
    const backend = await openPluginBackend(SLOW);
    try {
      assert.deepEqual(await backend.probe(model), { ok: true, format: "slow", architecture: "words" });
      const events: StatusEvent[] = [];
      const session = await backend.load(model, { onStatus: (e) => events.push(e) });
      assert.deepEqual(events.map((e) => e.status), ["loading_model", "capabilities"]);
      assert.equal(session.features?.tokenize, false);

      const controller = new AbortController();
      const generation = session.generate("go", { signal: controller.signal });
      let settled = false;
      void generation.result.then(() => settled = true);
      const chunks: string[] = [];
      for await (const chunk of generation) {
        chunks.push(chunk);
        assert.equal(settled, false, "the result came before the chunks: nothing was streamed");
        if (chunks.length === 3) controller.abort();
      }
      const result = await generation.result;
      assert.equal(result.stopReason, "abort");
      assert.equal(result.text, chunks.join(""));
      assert.ok(chunks.length >= 3, JSON.stringify(chunks));

      const next = await session.generate("go", { maxTokens: 4 }).result;
      assert.deepEqual([next.text, next.stopReason], ["word word word word ", "max_tokens"]);
      const left = session.chat([{ role: "user", content: "go" }]);
      for await (const _ of left) break; // leaving the loop aborts too
      assert.equal((await left.result).stopReason, "abort");
    } finally {
      await backend.close();
    }
  });
});

Deno.test("a backend plugin's failures name the plugin and hook, with the code the plugin gave", async () => {
  await withTempDir(async (dir) => {
    const model = `${dir}/m.slow`;
    await Deno.writeTextFile(model, "");
    const backend = await openPluginBackend(SLOW);
    try {
      const session = await backend.load(model);
      await assert.rejects(session.generate("usage").result, (e: unknown) => {
        assert.ok(isLodeError(e, "USAGE"), String(e));
        assert.deepEqual([e.details.plugin, e.details.hook, e.details.field], [
          "slow_backend",
          "session.generate",
          "prompt",
        ]);
        assert.match(e.message, /^plugin slow_backend \(session\.generate\): the prompt usage is refused/);
        return true;
      });
      await assert.rejects(session.tokenize("x"), (e: unknown) => {
        assert.ok(isLodeError(e, "INFERENCE_FAILED") && e.details.hook === "session.tokenize", String(e));
        return true;
      });
      const dying = session.generate("crash");
      const seen: string[] = [];
      await assert.rejects(
        (async () => {
          for await (const chunk of dying) seen.push(chunk);
        })(),
        (e: unknown) => {
          assert.ok(isLodeError(e, "PLUGIN_FAILED"), String(e));
          assert.deepEqual([e.details.plugin, e.details.hook], ["slow_backend", "session.generate"]);
          return true;
        },
      );
      assert.ok(seen.length > 0 && seen.length <= 3, JSON.stringify(seen));
      await session.close();
      await session.close(); // idempotent
      await assert.rejects(session.generate("go").result, (e: unknown) => isLodeError(e, "INFERENCE_FAILED"));
    } finally {
      await backend.close();
    }
  });
});

Deno.test("lode checks the file itself: missing is FILE_NOT_FOUND at load and not ok at probe", async () => {
  await withTempDir(async (dir) => {
    const backend = await openPluginBackend(ECHO);
    try {
      const missing = `${dir}/gone.echo`;
      const probe = await backend.probe(missing);
      assert.ok(!probe.ok && probe.reason.includes(missing), JSON.stringify(probe));
      await assert.rejects(backend.load(missing), (e: unknown) => isLodeError(e, "FILE_NOT_FOUND"));
      await Deno.writeTextFile(`${dir}/x.txt`, "not an echo model");
      assert.equal((await backend.probe(`${dir}/x.txt`)).ok, false);
      await Deno.writeTextFile(`${dir}/m.echo`, "");
      const session = await backend.load(`${dir}/m.echo`);
      assert.equal((await session.generate("a b c").result).text, "a b c ");
    } finally {
      await backend.close();
    }
    await assert.rejects(
      openPluginBackend(`${dir}/nowhere`),
      (e: unknown) => isLodeError(e, "PLUGIN_MANIFEST_INVALID"),
    );
  });
});
