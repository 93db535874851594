/**
 * CPU affinity of real model processes (`--cpu-affinity`, src/inference/cpu_affinity.ts): by default
 * a one-thread CPU model is kept on one CPU — every thread of the daemon's runner (reported in
 * `loaded.info.cpus`), and every thread of `lode run` in-process; two runners get two CPUs;
 * `--cpu-affinity off` leaves them to the kernel. Read from /proc/PID/task/TID/status.
 */
import assert from "node:assert/strict";
import { allowedCpus, parseCpuList } from "../src/inference/cpu_affinity.ts";
import { writeChatModel } from "./support/chat_model.ts";
import { runnerPids } from "./support/child_pids.ts";
import { FrameClient, terminal } from "./support/frame_client.ts";
import { finish, runLode, spawnLode } from "./support/lode_cli.ts";
import { startServe, storeWithStories } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";

const ALLOWED = allowedCpus();
const ignore = Deno.build.os !== "linux" || ALLOWED === null || ALLOWED.length < 2;
if (ignore) {
  console.log("serve_cpu_affinity_test.ts: SKIPPED, it needs Linux and at least 2 CPUs to choose from");
}

/** The distinct CPU lists the threads of process `pid` may run on. */
async function threadCpuLists(pid: number): Promise<string[]> {
  const lists = new Set<string>();
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    const status = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/status`).catch(() => "");
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
    if (m) lists.add(m[1]!);
  }
  return [...lists];
}

/** True when every thread of `pid` may run on every CPU this test may: left to the kernel. */
async function unpinned(pid: number): Promise<boolean> {
  const lists = await threadCpuLists(pid);
  return lists.every((l) => JSON.stringify(parseCpuList(l)) === JSON.stringify(ALLOWED));
}

/** A process pinned to `cpu` that sleeps until killed (another program holding a CPU). */
async function pinnedSleeper(cpu: number): Promise<{ stop(): Promise<void> }> {
  const script = `
    import { pinProcess } from ${
    JSON.stringify(new URL("../src/inference/cpu_affinity.ts", import.meta.url).href)
  };
    console.log(pinProcess([${cpu}]) ? "pinned" : "refused");
    setTimeout(() => {}, 600_000);
  `;
  const child = new Deno.Command(Deno.execPath(), { args: ["eval", "--quiet", script], stdout: "piped" })
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  const stop = async () => {
    child.kill();
    await reader.cancel();
    await child.status;
  };
  if (!/pinned/.test(value ?? "")) {
    await stop();
    throw new Error(`the sleeper could not pin itself: ${value}`);
  }
  return { stop };
}

/** `load`s `model` and returns its `loaded` frame. */
async function load(client: FrameClient, model: string): Promise<Record<string, unknown>> {
  await client.write({ id: `load-${model}`, op: "load", model });
  const frames = await client.frames(`load-${model}`, 60_000);
  assert.equal(terminal(frames).type, "done", JSON.stringify(frames));
  return frames.find((f) => f.type === "loaded")!;
}

Deno.test({
  name:
    "lode serve: each runner is pinned to its own CPU by default, all its threads; loaded.info.cpus says which",
  ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      const store = await storeWithStories(dir);
      const chat = await writeChatModel(`${dir}/chat.gguf`);
      assert.equal((await runLode(["import", chat, "--name", "chat"], { store })).code, 0);
      const daemon = await startServe(dir, store, ["--gpu", "off", "--max-loaded", "2"]);
      const client = await FrameClient.connect(daemon.socket);
      try {
        const first = (await load(client, "stories260K")).info as { cpus?: number[] };
        const second = (await load(client, "chat")).info as { cpus?: number[] };
        assert.equal(first.cpus?.length, 1, JSON.stringify(first));
        assert.equal(second.cpus?.length, 1, JSON.stringify(second));
        assert.notEqual(first.cpus![0], second.cpus![0], "a second runner is pinned to another CPU");
        const runners = await runnerPids(daemon.child.pid);
        assert.equal(runners.length, 2);
        const pinned = (await Promise.all(runners.map(threadCpuLists))).map((l) => l.join(" ")).sort();
        assert.deepEqual(pinned, [String(first.cpus![0]), String(second.cpus![0])].sort());
        // The daemon itself is left to the kernel.
        assert.ok(await unpinned(daemon.child.pid), String(await threadCpuLists(daemon.child.pid)));
      } finally {
        client.conn.close();
        const stopped = await daemon.stop();
        assert.equal(stopped.code, 0, stopped.stderr);
      }
    }, { prefix: "lode-serve-affinity-" });
  },
});

Deno.test({
  name: "lode serve --cpu-affinity off: the runner is left to the kernel and loaded.info has no cpus",
  ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      const store = await storeWithStories(dir);
      const daemon = await startServe(dir, store, ["--gpu", "off", "--cpu-affinity", "off"]);
      const client = await FrameClient.connect(daemon.socket);
      try {
        const info = (await load(client, "stories260K")).info as Record<string, unknown>;
        assert.equal("cpus" in info, false, JSON.stringify(info));
        const [runner] = await runnerPids(daemon.child.pid);
        assert.ok(await unpinned(runner!), String(await threadCpuLists(runner!)));
      } finally {
        client.conn.close();
        assert.equal((await daemon.stop()).code, 0);
      }
    }, { prefix: "lode-serve-affinity-off-" });
  },
});

Deno.test({
  name:
    "lode run in-process: pinned while it generates (auto), every thread, not where another process is pinned; a CPU it may not use is USAGE",
  ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      const store = await storeWithStories(dir);
      const cpu = ALLOWED!.at(-1)!;
      // Another program pinned to the last CPU: lode picks another one.
      const sleeper = await pinnedSleeper(cpu);
      const child = spawnLode(
        [
          "run",
          "stories260K",
          "Once upon a time",
          "--no-daemon",
          "--json",
          "--gpu",
          "off",
          "-n",
          "1500",
          "--temperature",
          "0",
        ],
        { store },
      );
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes('"event":"token"')) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      const lists = await threadCpuLists(child.pid);
      child.kill();
      await reader.cancel();
      await child.status;
      await sleeper.stop();
      assert.equal(lists.length, 1, `one CPU list for every thread: ${lists}`);
      assert.match(lists[0]!, /^\d+$/, "a single CPU");
      assert.notEqual(Number(lists[0]), cpu, "not the CPU another process is pinned to");

      const refused = await runLode(
        ["run", "stories260K", "Once", "--no-daemon", "--gpu", "off", "--cpu-affinity", `${cpu + 64}`],
        { store },
      );
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, new RegExp(`cannot pin to CPU ${cpu + 64}`));
      const explicit = spawnLode(
        [
          "run",
          "stories260K",
          "Once",
          "--no-daemon",
          "--gpu",
          "off",
          "--cpu-affinity",
          String(cpu),
          "-n",
          "2",
        ],
        { store },
      );
      assert.equal((await finish(explicit)).code, 0);
    }, { prefix: "lode-run-affinity-" });
  },
});
