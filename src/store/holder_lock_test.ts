import assert from "node:assert/strict";
import { z } from "zod";
import { isLodeError } from "../errors.ts";
import { acquireHolderLock, readHolder } from "./holder_lock.ts";

const Holder = z.object({ pid: z.number(), note: z.string() });

Deno.test("holder lock: the holder's record while held, a second claimant refused, empty after release, a stale record returned as previous", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/sub/x.lock`;
    const lock = await acquireHolderLock(path, Holder, { pid: 1, note: "first" }, { name: "x" });
    assert.equal(lock.previous, null);
    assert.deepEqual(await readHolder(path, Holder), { pid: 1, note: "first" });
    await assert.rejects(
      acquireHolderLock(path, Holder, { pid: 2, note: "second" }, { name: "x" }),
      (e) => isLodeError(e, "LOCK_CONTENDED"),
    );
    await lock.release();
    assert.equal(await readHolder(path, Holder), null);
    // A holder that died leaves its record: the next one takes the lock over and is told who it was.
    await Deno.writeTextFile(path, JSON.stringify({ pid: 3, note: "dead" }) + "\n");
    await using next = await acquireHolderLock(path, Holder, { pid: 4, note: "next" }, { name: "x" });
    assert.deepEqual(next.previous, { pid: 3, note: "dead" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
