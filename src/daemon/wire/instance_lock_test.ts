import assert from "node:assert/strict";
import { isLodeError, LodeError } from "../../errors.ts";
import { acquireInstanceLock, readInstanceRecord } from "./instance_lock.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";

const MODULE = new URL("./instance_lock.ts", import.meta.url).href;
const withDir = (body: (dir: string) => Promise<void>) => withTempDir(body, { prefix: "lode-instance-" });

/**
 * A real daemon-like process: it tries to take the lock, prints one JSON line
 * saying whether it won (or the error it got), and holds the lock until its
 * stdin closes.
 */
class Contender {
  readonly child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: ReadableStreamDefaultReader<string>;
  #buffered = "";

  constructor(path: string, socket: string) {
    const code = `
      const { acquireInstanceLock } = await import(${JSON.stringify(MODULE)});
      try {
        const lock = await acquireInstanceLock(${JSON.stringify(path)}, { socket: ${
      JSON.stringify(socket)
    } });
        console.log(JSON.stringify({ won: true, pid: Deno.pid, previous: lock.previous }));
        await new Response(Deno.stdin.readable).arrayBuffer();
        await lock.release();
      } catch (e) {
        console.log(JSON.stringify({ won: false, pid: Deno.pid, code: e.code, message: e.message, details: e.details }));
      }
    `;
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#stdin = this.child.stdin.getWriter();
    this.#lines = this.child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The contender's one JSON line. */
  async result(): Promise<Record<string, unknown>> {
    while (!this.#buffered.includes("\n")) {
      const { value, done } = await this.#lines.read();
      if (done) throw new Error(`the contender exited without a result: ${this.#buffered}`);
      this.#buffered += value;
    }
    return JSON.parse(this.#buffered.slice(0, this.#buffered.indexOf("\n")));
  }

  /** Lets a winner release and exit normally. */
  async finish(): Promise<Deno.CommandStatus> {
    await this.#stdin.close().catch(() => {});
    while (!(await this.#lines.read()).done) { /* drain */ }
    return await this.child.status;
  }

  /** SIGKILLs it: no chance to release or empty the record. */
  async kill(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.child.status;
    await this.#stdin.close().catch(() => {});
    while (!(await this.#lines.read()).done) { /* drain */ }
  }
}

Deno.test("acquireInstanceLock records pid, start time, version and sockets; release empties the record", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/run/lode.sock.lock`;
    const lock = await acquireInstanceLock(path, {
      socket: `${dir}/lode.sock`,
      adminSocket: `${dir}/admin.sock`,
      now: () => new Date("2026-01-02T03:04:05Z"),
      pid: 4242,
    });
    assert.equal(lock.previous, null);
    assert.deepEqual(await readInstanceRecord(path), {
      pid: 4242,
      started_at: "2026-01-02T03:04:05.000Z",
      version: lock.record.version,
      socket: `${dir}/lode.sock`,
      admin_socket: `${dir}/admin.sock`,
    });
    await lock.release();
    await lock.release(); // idempotent
    assert.equal(await readInstanceRecord(path), null);
    assert.equal(await Deno.readTextFile(path), "");
    // Free again.
    await using again = await acquireInstanceLock(path);
    assert.equal(again.record.pid, Deno.pid);
    assert.equal(again.previous, null);
  });
});

Deno.test("a second acquire while the first holds it: DAEMON_RUNNING naming the pid", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/lode.sock.lock`;
    await using _first = await acquireInstanceLock(path, { socket: "/s/lode.sock", pid: 777 });
    const e = await acquireInstanceLock(path, { socket: "/s/lode.sock" }).then(() => null, (e) => e);
    assert.ok(isLodeError(e, "DAEMON_RUNNING"), String(e));
    assert.match(e.message, /pid 777/);
    assert.match(e.message, /on \/s\/lode\.sock/);
    assert.equal(e.details.pid, 777);
    assert.equal(e.details.lock, path);
    assert.equal(e.exitCode, 7);
    // The failed attempt did not touch the holder's record.
    assert.equal((await readInstanceRecord(path))?.pid, 777);
  });
});

Deno.test("readInstanceRecord: missing, empty and damaged files read as null", async () => {
  await withDir(async (dir) => {
    assert.equal(await readInstanceRecord(`${dir}/none.lock`), null);
    await Deno.writeTextFile(`${dir}/empty.lock`, "");
    assert.equal(await readInstanceRecord(`${dir}/empty.lock`), null);
    await Deno.writeTextFile(`${dir}/bad.lock`, '{"pid":');
    assert.equal(await readInstanceRecord(`${dir}/bad.lock`), null);
    await Deno.writeTextFile(`${dir}/wrong.lock`, '{"pid":-1,"started_at":"x"}');
    assert.equal(await readInstanceRecord(`${dir}/wrong.lock`), null);
  });
});

Deno.test("a lock whose holder was SIGKILLed is taken over; its stale record comes back as previous", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/lode.sock.lock`;
    const holder = new Contender(path, `${dir}/lode.sock`);
    const held = await holder.result();
    assert.equal(held.won, true);
    // While it lives, we lose, and are told its pid.
    const e = await acquireInstanceLock(path).then(() => null, (e) => e);
    assert.ok(isLodeError(e, "DAEMON_RUNNING"));
    assert.equal(e.details.pid, held.pid);
    await holder.kill();
    // Its record is still in the file, but the kernel released the lock with the process.
    assert.equal((await readInstanceRecord(path))?.pid, held.pid);
    await using lock = await acquireInstanceLock(path);
    assert.equal(lock.previous?.pid, held.pid);
    assert.equal((await readInstanceRecord(path))?.pid, Deno.pid);
  });
});

Deno.test("two daemons started at once: exactly one wins, the other names the winner's pid", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/lode.sock.lock`;
    for (let round = 0; round < 3; round++) {
      const contenders = [0, 1].map(() => new Contender(path, `${dir}/lode.sock`));
      const results = await Promise.all(contenders.map((c) => c.result()));
      const winners = results.filter((r) => r.won === true);
      const losers = results.filter((r) => r.won === false);
      assert.equal(winners.length, 1, JSON.stringify(results));
      assert.equal(losers.length, 1, JSON.stringify(results));
      const [winner, loser] = [winners[0]!, losers[0]!];
      assert.equal(loser.code, "DAEMON_RUNNING");
      assert.equal((loser.details as { pid: number }).pid, winner.pid);
      assert.match(String(loser.message), new RegExp(`pid ${winner.pid}\\b`));
      const statuses = await Promise.all(contenders.map((c) => c.finish()));
      assert.ok(statuses.every((s) => s.success));
      // The winner released cleanly: the next round starts from a free, empty lock.
      assert.equal(await readInstanceRecord(path), null);
    }
  });
});

Deno.test("acquireInstanceLock: a lock path that cannot be created is an IO-kind error, not DAEMON_RUNNING", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "x");
    const e = await acquireInstanceLock(`${dir}/file/lode.lock`).then(() => null, (e) => e);
    assert.ok(e instanceof Error);
    assert.ok(!(e instanceof LodeError && e.code === "DAEMON_RUNNING"));
  });
});
