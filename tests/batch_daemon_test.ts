/**
 * `lode batch` with a daemon serving the store: the batch becomes a job of the daemon, run in its process
 * (the command follows it and prints its summary; `lode job show` of the daemon's store has it), and a bad
 * input is still refused whole, with its line numbers, before a job is submitted. And a disk that fills up
 * mid-batch (a real tmpfs): INSUFFICIENT_SPACE (exit 8), the answers written so far kept; with room again,
 * the same command finishes the batch, every custom_id answered once. A batch's --ctx-size is the context
 * each of its requests gets in the daemon too (the model reloaded with it), and one the daemon cannot load is
 * refused with BATCH_CONTEXT_UNAVAILABLE rather than run with another context.
 * @module
 */
import assert from "node:assert/strict";
import { FrameClient } from "./support/frame_client.ts";
import { runLode } from "./support/lode_cli.ts";
import { startServe, storeWithStories } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";

const request = (i: number, maxTokens = 16) =>
  JSON.stringify({
    custom_id: `req-${i}`,
    method: "POST",
    url: "/v1/chat/completions",
    body: { messages: [{ role: "user", content: `Story ${i}` }], max_tokens: maxTokens, temperature: 0 },
  });

/** The custom_ids of the whole lines of `path` (a disk that filled up may have cut the last one short). */
async function ids(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  const whole = text.slice(0, text.lastIndexOf("\n") + 1);
  return whole.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l).custom_id).sort();
}

Deno.test("lode batch through the daemon of the store: a job of the daemon; bad input refused before it", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const serve = await startServe(dir, store);
    try {
      const work = `${dir}/work`;
      await Deno.mkdir(work);
      await Deno.writeTextFile(`${work}/in.jsonl`, [0, 1, 2, 3, 4].map((i) => request(i)).join("\n") + "\n");
      const args = ["batch", "in.jsonl", "-m", "stories260K", "-o", "out.jsonl", "--socket", serve.socket];
      const r = await runLode([...args, "--json"], { store, cwd: work });
      assert.equal(r.code, 0, r.stderr);
      const record = r.events.find((e) => e.event === "job") as {
        id: string;
        daemon_socket?: string;
        state: string;
      };
      assert.equal(record.state, "succeeded");
      assert.ok(record.daemon_socket, "run by the daemon");
      assert.deepEqual(await ids(`${work}/out.jsonl`), ["req-0", "req-1", "req-2", "req-3", "req-4"]);
      await Deno.writeTextFile(`${work}/bad.jsonl`, request(0) + "\n{\n");
      const bad = await runLode([
        "batch",
        "bad.jsonl",
        "-m",
        "stories260K",
        "-o",
        "o.jsonl",
        "--socket",
        serve.socket,
      ], {
        store,
        cwd: work,
      });
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /BATCH_INVALID.*line 2/);
      const jobs = await runLode(["job", "ls", "--json"], { store });
      assert.equal(jobs.events.filter((e) => e.event === "job").length, 1, "no job for the refused batch");
    } finally {
      await serve.stop();
    }
  });
});

/** The context a request of the daemon on `socket` gets with `model` loaded (its `models` op). */
async function loadedContext(socket: string, model: string): Promise<number | undefined> {
  const client = await FrameClient.connect(socket);
  try {
    await client.write({ id: "m", op: "models" });
    const listed = (await client.frames("m")).find((f) => f.type === "models")!.models as {
      name: string;
      context_size?: number;
    }[];
    return listed.find((m) => m.name === model)?.context_size;
  } finally {
    client.close();
  }
}

Deno.test("lode batch --ctx-size through the daemon: each request gets that context, or the batch is refused", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const serve = await startServe(dir, store, ["--ctx-size", "512"]);
    try {
      await Deno.writeTextFile(`${dir}/in.jsonl`, [0, 1, 2].map((i) => request(i)).join("\n") + "\n");
      const args = ["batch", "in.jsonl", "-m", "stories260K", "--socket", serve.socket];
      const r = await runLode([...args, "-o", "out.jsonl", "--ctx-size", "256", "--json"], {
        store,
        cwd: dir,
      });
      assert.equal(r.code, 0, r.stderr);
      const record = r.events.find((e) => e.event === "job") as { state: string; daemon_socket?: string };
      assert.deepEqual([record.state, Boolean(record.daemon_socket)], ["succeeded", true]);
      assert.deepEqual(await ids(`${dir}/out.jsonl`), ["req-0", "req-1", "req-2"]);
      assert.equal(
        await loadedContext(serve.socket, "stories260K"),
        256,
        "the model runs with the batch's context",
      );
      // A context no memory holds: refused, typed, nothing answered with another context.
      const huge = await runLode([...args, "-o", "huge.jsonl", "--ctx-size", "50000000"], {
        store,
        cwd: dir,
      });
      assert.equal(huge.code, 6, huge.stderr);
      assert.match(huge.stderr, /BATCH_CONTEXT_UNAVAILABLE.*50000000 tokens/);
      assert.match(huge.stderr, /--no-daemon/);
      assert.deepEqual(await ids(`${dir}/huge.jsonl`), []);
    } finally {
      await serve.stop();
    }
  });
});

async function mount(dir: string, size: string, remount = false): Promise<boolean> {
  const options = remount ? `remount,size=${size}` : `size=${size}`;
  const out = await new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", options, "tmpfs", dir] }).output()
    .catch(() => null);
  return out?.success === true;
}

const canMount = await (async () => {
  const probe = await Deno.makeTempDir({ prefix: "lode-mount-probe-" });
  try {
    if (!(await mount(probe, "64k"))) return false;
    await new Deno.Command("umount", { args: [probe] }).output();
    return true;
  } finally {
    await Deno.remove(probe, { recursive: true });
  }
})();

Deno.test({
  name: "lode batch on a disk that fills up: INSUFFICIENT_SPACE, answers kept; with room, it finishes",
  ignore: !canMount,
  fn: async () => {
    await withTempDir(async (dir) => {
      const store = await storeWithStories(dir);
      const disk = `${dir}/disk`;
      await Deno.mkdir(disk);
      assert.ok(await mount(disk, "24k"));
      try {
        const total = 150;
        await Deno.writeTextFile(
          `${dir}/in.jsonl`,
          Array.from({ length: total }, (_, i) => request(i, 64)).join("\n"),
        );
        const args = [
          "batch",
          `${dir}/in.jsonl`,
          "-m",
          "stories260K",
          "-o",
          `${disk}/out.jsonl`,
          "--no-daemon",
        ];
        const full = await runLode(args, { store });
        assert.equal(full.code, 8, full.stderr);
        assert.match(
          full.stderr,
          /INSUFFICIENT_SPACE\]: cannot write .*\/disk\/out\.(errors\.)?jsonl: its disk is full/,
        );
        // The advice is about that disk, not the store's (MODELS_HOME, LODE_MIN_FREE_BYTES).
        assert.match(full.stderr, /hint: Free space on that disk, then run the same command again/);
        assert.doesNotMatch(full.stderr, /MODELS_HOME/);
        const kept = await ids(`${disk}/out.jsonl`);
        assert.ok(kept.length > 0 && kept.length < total, `kept ${kept.length}`);
        assert.ok(await mount(disk, "4m", true));
        const r = await runLode(args, { store });
        assert.equal(r.code, 0, r.stderr);
        const all = await ids(`${disk}/out.jsonl`);
        assert.equal(all.length, total);
        assert.equal(new Set(all).size, total, "every custom_id once");
      } finally {
        await new Deno.Command("umount", { args: [disk] }).output();
      }
    });
  },
});
