import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import {
  allowedCpus,
  checkCpuAffinity,
  cpusPinnedByOthers,
  cpuTimes,
  parseCpuList,
  planCpus,
} from "./cpu_affinity.ts";

const isUsage = (e: unknown) => e instanceof LodeError && e.code === "USAGE";

Deno.test("parseCpuList: ranges and single CPUs, sorted, without repeats; anything else is USAGE", () => {
  assert.deepEqual(parseCpuList("0"), [0]);
  assert.deepEqual(parseCpuList("0-3,8,10-11\n"), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList("3,1-2,2"), [1, 2, 3]);
  for (const bad of ["a", "1-", "-1", "3-1", "1,,x", "0-99999"]) {
    assert.throws(() => parseCpuList(bad), isUsage, bad);
  }
});

Deno.test("allowedCpus: read from Cpus_allowed_list", () => {
  const status = "Name:\tdeno\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed_list:\t0\n";
  const expected = Deno.build.os === "linux" ? [0, 1] : null;
  assert.deepEqual(allowedCpus(() => status), expected);
  if (Deno.build.os === "linux") assert.ok(allowedCpus()!.length >= 1);
});

Deno.test("cpuTimes: busy and total per CPU from /proc/stat (the all-CPU line is skipped)", () => {
  const stat =
    "cpu  30 0 10 160 0 0 0 0 0 0\ncpu0 10 0 5 85 0 0 0 0 0 0\ncpu1 20 1 5 70 4 0 0 0 0 0\nintr 1\n";
  assert.deepEqual([...cpuTimes(stat)], [[0, { busy: 15, total: 100 }], [1, { busy: 26, total: 100 }]]);
});

/** A /proc/stat reader whose CPUs were busy `shares` (0..1) between the two reads. */
function procStat(shares: number[]): () => Promise<string> {
  let reads = 0;
  return () => {
    const t = reads++ * 1000;
    return Promise.resolve(
      shares.map((s, cpu) => `cpu${cpu} ${Math.round(s * t)} 0 0 ${Math.round((1 - s) * t)} 0 0 0 0 0 0`)
        .join("\n"),
    );
  };
}

Deno.test("planCpus auto: one CPU-only thread goes to the least busy allowed CPU no other process is pinned to", async () => {
  const base = {
    threads: 1,
    cpuOnly: true,
    allowed: [0, 1, 2, 3],
    pinnedByOthers: () => Promise.resolve([]),
  };
  const others = (cpus: number[]) => () => Promise.resolve(cpus);
  const busy = procStat([0.9, 0.2, 0.5, 0.1]);
  assert.deepEqual(await planCpus("auto", { ...base, procStat: busy }), [3]);
  // A CPU another process is pinned to is avoided.
  assert.deepEqual(
    await planCpus("auto", {
      ...base,
      pinnedByOthers: others([3]),
      procStat: procStat([0.9, 0.2, 0.5, 0.1]),
    }),
    [1],
  );
  // Every allowed CPU taken: the least busy of them all.
  assert.deepEqual(
    await planCpus("auto", {
      ...base,
      pinnedByOthers: others([0, 1, 2, 3]),
      procStat: procStat([0.9, 0.2, 0.5, 0.3]),
    }),
    [1],
  );
  // No /proc/stat: any free CPU, drawn at random.
  const drawn = new Set<number>();
  for (let i = 0; i < 40; i++) {
    const noStat = () => Promise.reject(new Error("no"));
    const [cpu] = (await planCpus("auto", { ...base, pinnedByOthers: others([0]), procStat: noStat }))!;
    drawn.add(cpu!);
  }
  assert.deepEqual([...drawn].sort(), [1, 2, 3]);
});

Deno.test("cpusPinnedByOthers: user processes narrower than the allowed CPUs; kernel threads and this process are not", async () => {
  const proc = await Deno.makeTempDir({ prefix: "lode-proc-" });
  try {
    const put = async (pid: string, cpus: string, cmdline: string) => {
      await Deno.mkdir(`${proc}/${pid}`);
      await Deno.writeTextFile(`${proc}/${pid}/status`, `Name:\tx\nCpus_allowed_list:\t${cpus}\n`);
      await Deno.writeTextFile(`${proc}/${pid}/cmdline`, cmdline);
    };
    await put("100", "2", "lode\0__runner\0");
    await put("101", "0-3", "bash\0"); // not pinned
    await put("102", "1", ""); // a kernel thread (kworker/1:0)
    await put("103", "3,9", "taskset\0"); // 9 is not ours
    await put(String(Deno.pid), "0", "deno\0"); // this process
    await Deno.mkdir(`${proc}/self`);
    assert.deepEqual(await cpusPinnedByOthers([0, 1, 2, 3], proc), [2, 3]);
    assert.deepEqual(await cpusPinnedByOthers([0, 1], `${proc}/missing`), []);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("planCpus auto: left to the kernel with several threads, a GPU, one CPU, or unknown CPUs", async () => {
  const stat = procStat([0, 0]);
  assert.equal(await planCpus("auto", { threads: 2, cpuOnly: true, allowed: [0, 1], procStat: stat }), null);
  assert.equal(await planCpus("auto", { threads: 1, cpuOnly: false, allowed: [0, 1], procStat: stat }), null);
  assert.equal(await planCpus("auto", { threads: 1, cpuOnly: true, allowed: [0], procStat: stat }), null);
  assert.equal(await planCpus("auto", { threads: 1, cpuOnly: true, allowed: null, procStat: stat }), null);
  assert.equal(await planCpus("off", { threads: 1, cpuOnly: true, allowed: [0, 1] }), null);
  assert.equal(await planCpus(undefined, { threads: 1, cpuOnly: true, allowed: [0, 1] }), null);
});

Deno.test("planCpus with a list: exactly those CPUs, whatever the threads; a CPU not allowed is USAGE", async () => {
  assert.deepEqual(await planCpus([1], { threads: 4, cpuOnly: false, allowed: [0, 1] }), [1]);
  await assert.rejects(
    planCpus([0, 7], { threads: 1, cpuOnly: true, allowed: [0, 1] }),
    (e) => isUsage(e) && /cannot pin to CPU 7: this process may run on 0,1/.test((e as Error).message),
  );
});

Deno.test("checkCpuAffinity: auto, off or a list of CPU numbers", () => {
  for (const ok of [undefined, "auto", "off", [0], [1, 3]]) checkCpuAffinity(ok);
  for (const bad of ["fast", [], [-1], [1.5], 3, {}]) assert.throws(() => checkCpuAffinity(bad), isUsage);
});

/** The CPU list every thread of process `pid` may run on (one entry per distinct list). */
async function threadCpuLists(pid: number): Promise<Set<string>> {
  const lists = new Set<string>();
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    const status = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/status`).catch(() => "");
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
    if (m) lists.add(m[1]!);
  }
  return lists;
}

Deno.test({
  name: "pinProcess: every thread of a real process is pinned, and threads it starts later inherit it",
  ignore: Deno.build.os !== "linux" || (allowedCpus()?.length ?? 0) < 2,
  fn: async () => {
    const cpu = allowedCpus()!.at(-1)!;
    const script = `
      import { pinProcess } from ${JSON.stringify(new URL("./cpu_affinity.ts", import.meta.url).href)};
      console.log(pinProcess([${cpu}]) ? "pinned" : "refused");
      // A worker started after pinning: a new thread.
      const w = new Worker("data:text/javascript,self.postMessage(1)", { type: "module" });
      await new Promise((r) => (w.onmessage = r));
      console.log("worker");
      await new Promise((r) => setTimeout(r, 60_000));
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", script],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      let out = "";
      while (!out.includes("worker")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      assert.match(out, /pinned/);
      assert.deepEqual([...await threadCpuLists(child.pid)], [String(cpu)]);
    } finally {
      child.kill();
      await reader.cancel();
      await child.status;
    }
  },
});
