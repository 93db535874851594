import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { acquireFileLock } from "./file_lock.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";

const MODULE = new URL("./file_lock.ts", import.meta.url).href;

const withDir = (body: (dir: string) => Promise<void>) => withTempDir(body, { prefix: "lode-lock-" });

/** Resolves `"pending"` unless `p` settles within `ms`. */
function settledWithin<T>(p: Promise<T>, ms: number): Promise<T | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"pending">((resolve) => timer = setTimeout(() => resolve("pending"), ms));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A child Deno process that takes the lock (printing its `onWait` and "locked"), then sleeps forever. */
class LockHolder {
  readonly #child: Deno.ChildProcess;
  readonly #lines: ReadableStreamDefaultReader<string>;

  constructor(path: string) {
    const code = `
      const { acquireFileLock } = await import(${JSON.stringify(MODULE)});
      await acquireFileLock(${JSON.stringify(path)}, { name: "m", onWait: () => console.log("waiting") });
      console.log("locked");
      setInterval(() => {}, 60_000);
    `;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#lines = this.#child.stdout
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(splitLines())
      .getReader();
  }

  /** The next line the child printed. */
  async nextLine(): Promise<string> {
    const { value, done } = await this.#lines.read();
    if (done) throw new Error("the lock holder exited early");
    return value;
  }

  /** SIGKILLs the child (no chance to unlock) and reaps it. */
  async kill(): Promise<Deno.CommandStatus> {
    this.#child.kill("SIGKILL");
    const status = await this.#child.status;
    while (!(await this.#lines.read()).done) { /* drain */ }
    return status;
  }
}

function splitLines(): TransformStream<string, string> {
  let pending = "";
  return new TransformStream({
    transform(text, controller) {
      const parts = (pending + text).split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) controller.enqueue(line);
    },
    flush(controller) {
      if (pending) controller.enqueue(pending);
    },
  });
}

Deno.test("acquireFileLock creates the lock file and its directory", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/locks/m.lock`;
    await using lock = await acquireFileLock(path, { name: "m" });
    assert.equal(lock.path, path);
    assert.ok((await Deno.stat(path)).isFile);
  });
});

Deno.test("a second acquire with wait:false fails at once with LOCK_CONTENDED", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/m.lock`;
    const first = await acquireFileLock(path, { name: "m" });
    let waited = 0;
    await assert.rejects(
      acquireFileLock(path, { name: "m", wait: false, onWait: () => waited++ }),
      (e) => {
        assert.ok(e instanceof LodeError);
        assert.equal(e.code, "LOCK_CONTENDED");
        assert.deepEqual(e.details, { name: "m", lock: path });
        return true;
      },
    );
    assert.equal(waited, 0);
    await first.release();
    // Once released, wait:false succeeds.
    const again = await acquireFileLock(path, { name: "m", wait: false });
    await again.release();
  });
});

Deno.test("a waiting acquire calls onWait once and gets the lock after release", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/m.lock`;
    const first = await acquireFileLock(path, { name: "m" });
    let waited = 0;
    const second = acquireFileLock(path, { name: "m", onWait: () => waited++ });
    assert.equal(await settledWithin(second, 100), "pending");
    assert.equal(waited, 1);
    await first.release();
    const lock = await second;
    assert.equal(waited, 1);
    await lock.release();
  });
});

Deno.test("release is idempotent and `await using` releases", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/m.lock`;
    const lock = await acquireFileLock(path, { name: "m" });
    await lock.release();
    await lock.release();
    {
      await using _held = await acquireFileLock(path, { name: "m", wait: false });
    }
    await (await acquireFileLock(path, { name: "m", wait: false })).release();
  });
});

Deno.test("a lock held by another process blocks us; SIGKILLing it leaves no stale lock", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/locks/m.lock`;
    const holder = new LockHolder(path);
    let killed = false;
    try {
      assert.equal(await holder.nextLine(), "locked");
      await assert.rejects(
        acquireFileLock(path, { name: "m", wait: false }),
        /locked by another lode process/,
      );
      let waited = 0;
      const ours = acquireFileLock(path, { name: "m", onWait: () => waited++ });
      assert.equal(await settledWithin(ours, 150), "pending");
      assert.equal(waited, 1);
      const status = await holder.kill();
      killed = true;
      assert.equal(status.signal, "SIGKILL");
      const lock = await ours; // the kernel dropped the dead holder's lock
      assert.equal(waited, 1);
      await lock.release();
      // The lock file is still there, but it is not a lock: wait:false succeeds.
      assert.ok((await Deno.stat(path)).isFile);
      await (await acquireFileLock(path, { name: "m", wait: false })).release();
    } finally {
      if (!killed) await holder.kill();
    }
  });
});

Deno.test("another process waits for our lock and gets it when we release", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/m.lock`;
    const ours = await acquireFileLock(path, { name: "m" });
    const holder = new LockHolder(path);
    try {
      assert.equal(await holder.nextLine(), "waiting");
      await ours.release();
      assert.equal(await holder.nextLine(), "locked");
      await assert.rejects(acquireFileLock(path, { name: "m", wait: false }), LodeError);
    } finally {
      await ours.release();
      await holder.kill();
    }
  });
});
