/**
 * `lode serve` follows its store while other processes change it (a real daemon, real runner processes,
 * the real model, the real CLI): after `lode import` of other bytes under a loaded name the new file is
 * served; after `lode rm` the model is unloaded (its runner gone, no process holding its deleted blob),
 * requests get MODEL_NOT_FOUND and `lode status` no longer lists it; `lode gc` frees the replaced blob.
 * A model that fails to load ends `load_failed` with its code on the admin stream and in `lode status`.
 */
import assert from "node:assert/strict";
import { runLode } from "./support/lode_cli.ts";
import { childPids, processAlive, runnerPids } from "./support/child_pids.ts";
import { writeChatModel } from "./support/chat_model.ts";
import { type Frame, FrameClient, terminal, tokenText } from "./support/frame_client.ts";
import { startServe, storeWithStories, STORIES_FILE, waitForSocket } from "./support/serve_process.ts";
import { LineReader } from "./support/unix_socket.ts";
import { withTempDir } from "./support/temp_dir.ts";

const STORIES_SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const STORY =
  ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";

/** Every admin frame, collected in the background; `until` resolves with the first frame that matches. */
async function watchAdmin(path: string) {
  await waitForSocket(path);
  const conn = await Deno.connect({ transport: "unix", path });
  const reader = new LineReader(conn);
  const frames: Record<string, unknown>[] = [];
  const waiting: { matches: (f: Record<string, unknown>) => boolean; resolve: () => void }[] = [];
  void (async () => {
    for (let line = await reader.next(); line !== null; line = await reader.next()) {
      const frame = JSON.parse(line);
      frames.push(frame);
      for (const w of waiting.filter((w) => w.matches(frame))) w.resolve();
    }
  })().catch(() => {});
  return {
    frames,
    until(matches: (f: Record<string, unknown>) => boolean): Promise<void> {
      if (frames.some(matches)) return Promise.resolve();
      const wait = Promise.withResolvers<void>();
      waiting.push({ matches, resolve: wait.resolve });
      return wait.promise;
    },
    stop: () => conn.close(),
  };
}

let seq = 0;
/** The answer to `request`, without `loading` frames. */
async function ask(client: FrameClient, request: Record<string, unknown>): Promise<Frame[]> {
  const id = `r${++seq}`;
  await client.write({ id, ...request });
  return (await client.frames(id)).filter((f) => f.type !== "loading");
}

const story = {
  op: "generate",
  model: "stories260K",
  prompt: "Once upon a time",
  max_tokens: 40,
  temperature: 0,
};

/** Resolves once `pid` has exited (the daemon stops a runner after answering). */
async function exited(pid: number): Promise<void> {
  while (await processAlive(pid)) await new Promise((r) => setTimeout(r, 20));
}

/** Files under `dir` that `pid` or its children hold open or mapped (a deleted file's space is not freed). */
async function heldUnder(pid: number, dir: string): Promise<string[]> {
  const held: string[] = [];
  for (const p of [pid, ...await childPids(pid)]) {
    const maps = await Deno.readTextFile(`/proc/${p}/maps`).catch(() => "");
    for (const line of maps.split("\n")) if (line.includes(dir)) held.push(`${p} maps ${line.trim()}`);
    for await (const fd of Deno.readDir(`/proc/${p}/fd`)) {
      const target = await Deno.readLink(`/proc/${p}/fd/${fd.name}`).catch(() => "");
      if (target.includes(dir)) held.push(`${p} fd ${target}`);
    }
  }
  return held;
}

Deno.test("lode import, gc and rm from another process while the daemon serves the model: the new file is served, the removed one unloaded (MODEL_NOT_FOUND, its runner gone, its blob's space free, not listed)", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const other = await writeChatModel(`${dir}/other.gguf`);
    const daemon = await startServe(dir, store, ["--lockfile", `${dir}/none.lock`]);
    const admin = await watchAdmin(daemon.adminSocket);
    const client = await FrameClient.connect(daemon.socket);
    const unloaded = (reason: string) => (f: Record<string, unknown>) =>
      f.model === "stories260K" && f.status === "unloaded" && f.reason === reason;
    try {
      assert.equal(tokenText(await ask(client, story)), STORY);
      const [first] = await runnerPids(daemon.child.pid);

      // Other bytes under the name: the next request loads them (never the old model).
      const imported = await runLode(["import", other, "--name", "stories260K"], { store });
      assert.equal(imported.code, 0, imported.stderr);
      const replaced = tokenText(await ask(client, story));
      assert.notEqual(replaced, STORY);
      await admin.until(unloaded("changed"));
      await exited(first!);
      const [second] = await runnerPids(daemon.child.pid);
      assert.notEqual(second, first);

      // gc frees the old blob, which nothing holds any more; the new model is still served.
      const gc = await runLode(["gc", "--json"], { store });
      assert.equal(gc.code, 0, gc.stderr);
      assert.equal(gc.events.find((e) => e.event === "gc_done")?.removed, 1, gc.stdout);
      assert.equal(tokenText(await ask(client, story)), replaced);

      // Removed: MODEL_NOT_FOUND, as `--no-daemon` says; the runner stops; nothing holds the blob.
      const removed = await runLode(["rm", "stories260K"], { store });
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal(terminal(await ask(client, story)).code, "MODEL_NOT_FOUND");
      const direct = await runLode(["run", "stories260K", "Once", "--no-daemon"], { store });
      assert.equal(direct.code, 3, direct.stderr);
      await admin.until(unloaded("removed"));
      await exited(second!);
      assert.deepEqual(await runnerPids(daemon.child.pid), []);
      assert.deepEqual(await heldUnder(daemon.child.pid, `${store}/blobs`), []);
      assert.deepEqual((await ask(client, { op: "models" }))[0]!.models, []);
      assert.deepEqual((await ask(client, { op: "health" }))[0]!.loaded, []);
      const status = await runLode(["status", "--socket", daemon.socket], { store });
      assert.equal(status.code, 0, status.stderr);
      assert.doesNotMatch(status.stdout, /^model: /m);
      assert.match(status.stdout, /^latest: stories260K: unloaded \(no longer in the store\)$/m);
    } finally {
      client.close();
      admin.stop();
      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
    }
  });
});

Deno.test("a model that fails to load: load_failed with its code on the admin stream and in lode status, not loading", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    // The stored blob damaged in place (as a failing disk would): its header names tensors past its end.
    const path = `${store}/blobs/sha256/${STORIES_SHA.slice(0, 2)}/${STORIES_SHA}/data`;
    await Deno.chmod(path, 0o644);
    await Deno.truncate(path, (await Deno.stat(STORIES_FILE)).size - 200_000);
    const daemon = await startServe(dir, store, ["--lockfile", `${dir}/none.lock`]);
    const admin = await watchAdmin(daemon.adminSocket);
    const client = await FrameClient.connect(daemon.socket);
    try {
      const answer = terminal(await ask(client, story));
      assert.equal(answer.code, "MODEL_LOAD_FAILED", JSON.stringify(answer));
      await admin.until((f) => f.status === "load_failed");
      const failed = admin.frames.find((f) => f.status === "load_failed")!;
      assert.equal(failed.model, "stories260K");
      assert.equal(failed.code, "MODEL_LOAD_FAILED");
      assert.equal(failed.message, answer.message);
      const status = await runLode(["status", "--socket", daemon.socket], { store });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^latest: stories260K: load failed — MODEL_LOAD_FAILED: .+$/m);
      assert.match(status.stdout, /^model: stories260K \(not loaded\)$/m);
      const json = await runLode(["status", "--socket", daemon.socket, "--json"], { store });
      assert.equal(json.events.at(-1)?.status, "load_failed");
      assert.equal(json.events.at(-1)?.code, "MODEL_LOAD_FAILED");
    } finally {
      client.close();
      admin.stop();
      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
    }
  });
});
