/**
 * `lode serve`'s router as a client sees it (a real daemon, real runner processes, the real model, real
 * sockets; a real HTTPS origin and a fake Hugging Face Hub on loopback): one runner per stored model whatever
 * the request calls it (its name, a URL, an `hf:` reference), an `hf:` reference pinned to a commit loaded
 * with no request to the Hub, the `load` op's `context_size` / `keep_alive_ms`, and `health.loaded`.
 */
import assert from "node:assert/strict";
import { runLode } from "./support/lode_cli.ts";
import { processAlive, runnerPids } from "./support/child_pids.ts";
import { type Frame, FrameClient, terminal, tokenText } from "./support/frame_client.ts";
import { startFakeHub } from "./support/fake_hub.ts";
import { makeTestCa } from "./support/test_ca.ts";
import { startOrigin } from "./support/origin.ts";
import { startServe, storeWithStories, STORIES_FILE, waitForSocket } from "./support/serve_process.ts";
import { LineReader } from "./support/unix_socket.ts";
import { withTempDir } from "./support/temp_dir.ts";

const STORIES = await Deno.readFile(STORIES_FILE);
const STORIES_SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const STORY =
  ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";

/** Every admin frame, collected in the background until `stop()`. */
async function watchAdmin(path: string): Promise<{ frames: Record<string, unknown>[]; stop(): void }> {
  await waitForSocket(path);
  const conn = await Deno.connect({ transport: "unix", path });
  const reader = new LineReader(conn);
  const frames: Record<string, unknown>[] = [];
  void (async () => {
    for (let line = await reader.next(); line !== null; line = await reader.next()) {
      frames.push(JSON.parse(line));
    }
  })().catch(() => {});
  return { frames, stop: () => conn.close() };
}

let seq = 0;
/** Sends one request and returns its frames (the last one its `done` or `error`). */
/** The answer to `request`, without the `loading` frames of a load it waited for (serve_provide_test.ts tests those). */
async function ask(client: FrameClient, request: Record<string, unknown>): Promise<Frame[]> {
  const id = `r${++seq}`;
  await client.write({ id, ...request });
  return (await client.frames(id)).filter((f) => f.type !== "loading");
}

const story = (model: string) => ({
  op: "generate",
  model,
  prompt: "Once upon a time",
  max_tokens: 40,
  temperature: 0,
});

async function health(client: FrameClient): Promise<Frame> {
  return (await ask(client, { op: "health" }))[0]!;
}

async function models(client: FrameClient): Promise<Record<string, unknown>[]> {
  return (await ask(client, { op: "models" }))[0]!.models as Record<string, unknown>[];
}

Deno.test("one runner per file: a URL reference and its store name share one runner, listed once, tagged with the store name", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const origin = await startOrigin({ tls: ca, routes: { "/m/stories260K.gguf": { body: STORIES } } });
    const ref = `${origin.url}/m/stories260K.gguf#sha256=${STORIES_SHA}`;
    const daemon = await startServe(dir, `${dir}/store`, [
      "--ca-cert",
      ca.caCertPath,
      "--lockfile",
      `${dir}/none.lock`,
    ]);
    const admin = await watchAdmin(daemon.adminSocket);
    const client = await FrameClient.connect(daemon.socket);
    try {
      assert.deepEqual((await health(client)).loaded, []);
      assert.equal(tokenText(await ask(client, story(ref))), STORY); // pulled, then loaded
      assert.equal(tokenText(await ask(client, story("stories260K"))), STORY);
      const runners = await runnerPids(daemon.child.pid);
      assert.equal(runners.length, 1, "the reference and its name: one runner");
      assert.deepEqual((await health(client)).loaded, ["stories260K"]);
      const listed = await models(client);
      assert.deepEqual(listed.map((m) => [m.name, m.loaded]), [["stories260K", true]]);
      const loaded = (await ask(client, { op: "load", model: ref }))[0]!;
      assert.equal(loaded.model, "stories260K");
      const tagged = admin.frames.filter((f) => f.model !== undefined);
      assert.ok(tagged.some((f) => f.phase === "download"), JSON.stringify(admin.frames));
      assert.deepEqual([...new Set(tagged.map((f) => f.model))], ["stories260K"]);

      // Unloaded by the reference; then the reference and the name at once: one load, one runner.
      const unloaded = (await ask(client, { op: "unload", model: ref }))[0]!;
      assert.equal(unloaded.was_loaded, true);
      assert.equal(await processAlive(runners[0]!), false);
      assert.deepEqual((await health(client)).loaded, []);
      const fetched = origin.requests.length;
      const both = await Promise.all([ask(client, story(ref)), ask(client, story("stories260K"))]);
      assert.deepEqual(both.map(tokenText), [STORY, STORY]);
      assert.equal((await runnerPids(daemon.child.pid)).length, 1);
      assert.equal(origin.requests.length, fetched, "a pinned URL the store holds: no request");
    } finally {
      client.close();
      admin.stop();
      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
      await origin.close();
    }
  });
});

Deno.test("hf: a reference pinned to a commit the store holds loads with no request to the Hub (even --offline); unpinned, the Hub is asked once per load (no download); one runner", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const hub = await startFakeHub(ca, [{
      repo: "tiny/stories-GGUF",
      files: [{ path: "stories260K-Q8_0.gguf", bytes: STORIES }, {
        path: "other-Q4_K_M.gguf",
        bytes: STORIES,
      }],
    }]);
    const store = `${dir}/store`;
    const env = { HF_ENDPOINT: hub.endpoint };
    const trust = ["--ca-cert", ca.caCertPath, "--allow-host", hub.cdnHost];
    const commit = hub.shaOf("tiny/stories-GGUF");
    const pinned = `hf:tiny/stories-GGUF:Q8_0@${commit}`;
    try {
      const pull = await runLode([...trust, "pull", "hf:tiny/stories-GGUF:Q8_0"], { store, env });
      assert.equal(pull.code, 0, pull.stderr);
      const serve = (args: string[] = []) =>
        startServe(dir, store, [...trust, "--lockfile", `${dir}/none.lock`, ...args], { env });
      const requests = () => hub.hub.requests.length + hub.cdn.requests.length;
      const offline = await serve(["--offline"]);
      const client = await FrameClient.connect(offline.socket);
      try {
        const before = requests();
        assert.equal(tokenText(await ask(client, story(pinned))), STORY);
        assert.equal(tokenText(await ask(client, story("stories260K-Q8_0"))), STORY);
        assert.equal((await runnerPids(offline.child.pid)).length, 1);
        // Unpinned: only the Hub can say which commit `main` is (as for `lode run hf:…`).
        assert.equal(terminal(await ask(client, story("hf:tiny/stories-GGUF:Q8_0"))).code, "OFFLINE");
        assert.equal(requests(), before, "pinned: no request to the Hub");
      } finally {
        client.close();
        const stopped = await offline.stop();
        assert.equal(stopped.code, 0, stopped.stderr);
      }

      const daemon = await serve();
      const online = await FrameClient.connect(daemon.socket);
      try {
        const cdn = hub.cdn.requests.length;
        assert.equal(tokenText(await ask(online, story("hf:tiny/stories-GGUF:Q8_0"))), STORY);
        assert.ok(
          hub.hub.requests.some((r) => r.path.includes("/revision/main")),
          "unpinned: the Hub is asked",
        );
        assert.equal(hub.cdn.requests.length, cdn, "no download");
        const before = requests();
        assert.equal(tokenText(await ask(online, story(pinned))), STORY);
        assert.equal(tokenText(await ask(online, story("hf:tiny/stories-GGUF:Q8_0"))), STORY);
        assert.equal(requests(), before, "loaded: the unpinned reference is not resolved again");
        assert.equal((await runnerPids(daemon.child.pid)).length, 1);
        assert.deepEqual((await models(online)).map((m) => [m.name, m.loaded]), [["stories260K-Q8_0", true]]);
        await ask(online, { op: "unload", model: pinned });
        assert.equal((await ask(online, { op: "load", model: pinned }))[0]!.model, "stories260K-Q8_0");
        assert.equal(requests(), before);
      } finally {
        online.close();
        const stopped = await daemon.stop();
        assert.equal(stopped.code, 0, stopped.stderr);
      }
    } finally {
      await hub.close();
    }
  });
});

Deno.test("load: context_size and keep_alive_ms apply to the model (a reload for another context, on the admin stream); health lists the loaded", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const daemon = await startServe(dir, store, ["--keep-alive", "5m", "--lockfile", `${dir}/none.lock`]);
    const admin = await watchAdmin(daemon.adminSocket);
    const client = await FrameClient.connect(daemon.socket);
    try {
      const small = (await ask(client, { op: "load", model: "stories260K", context_size: 256 }))[0]!;
      assert.equal(small.context_size, 256);
      assert.equal(small.keep_alive_ms, 300_000, "the daemon's --keep-alive");
      const [first] = await runnerPids(daemon.child.pid);
      assert.equal(tokenText(await ask(client, story("stories260K"))), STORY);
      const plain = (await ask(client, { op: "load", model: "stories260K" }))[0]!;
      assert.equal(plain.context_size, 256, "no context named: the one it is loaded with");
      assert.equal((await models(client))[0]!.context_size, 256);
      assert.deepEqual(await runnerPids(daemon.child.pid), [first]);

      const big = (await ask(client, {
        op: "load",
        model: "stories260K",
        context_size: 512,
        keep_alive_ms: 60_000,
      }))[0]!;
      assert.equal(big.context_size, 512);
      assert.equal(big.keep_alive_ms, 60_000);
      assert.equal(await processAlive(first!), false, "reloaded in a new runner");
      const expires = (await models(client))[0]!.expires_in_ms as number;
      assert.ok(expires <= 60_000 && expires > 50_000, String(expires));
      await client.until(() => admin.frames.some((f) => f.phase === "kv_cache" && f.n_ctx === 512));
      const reload = admin.frames.filter((f) => f.status === "restarting");
      assert.ok(reload.length >= 3, JSON.stringify(admin.frames));
      assert.ok(reload.every((f) => f.model === "stories260K" && f.reason === "context_size"));
      assert.deepEqual((await health(client)).loaded, ["stories260K"]);

      // A context that can never fit: refused, and the model is loaded back as it was (512, its keep-alive).
      const huge = await ask(client, { op: "load", model: "stories260K", context_size: 2 ** 30 });
      assert.equal(terminal(huge).code, "INSUFFICIENT_MEMORY", JSON.stringify(huge));
      const back = (await ask(client, { op: "load", model: "stories260K" }))[0]!;
      assert.equal(back.context_size, 512);
      assert.equal(back.keep_alive_ms, 60_000);
      await client.until(() => admin.frames.at(-1)?.status === "ready");
      assert.ok(admin.frames.some((f) => f.reason === "reload_failed" && f.phase === "kv_cache"));

      const once = (await ask(client, { op: "load", model: "stories260K", keep_alive_ms: 0 }))[0]!;
      assert.equal(once.keep_alive_ms, 0);
      const [runner] = await runnerPids(daemon.child.pid);
      const deadline = Date.now() + 30_000;
      while (await processAlive(runner!)) {
        assert.ok(Date.now() < deadline, "keep_alive_ms 0: unloaded as soon as idle");
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual((await health(client)).loaded, []);
      const bad = await ask(client, { op: "load", model: "stories260K", context_size: 0 });
      assert.equal(terminal(bad).code, "BAD_REQUEST");
    } finally {
      client.close();
      admin.stop();
      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.match(stopped.stderr, /stories260K: reloading with context size 512 \(loaded with 256\)/);
      assert.match(
        stopped.stderr,
        /stories260K: the reload failed \(.+\); loading it again with context size 512/,
      );
    }
  });
});
