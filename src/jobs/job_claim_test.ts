import assert from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import { claimJob, claimPath, readClaim } from "./job_claim.ts";
import { processStart } from "./process_alive.ts";

Deno.test("a claim names its holder; a second claim fails with JOB_RUNNING naming the pid; release frees it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-claim-" });
  try {
    const first = await claimJob(dir);
    assert.equal(first.previous, null);
    assert.equal(first.holder.pid, Deno.pid);
    assert.equal(first.holder.pid_start, await processStart(Deno.pid));
    assert.deepEqual(await readClaim(claimPath(dir)), first.holder);
    // flock locks an open file, so a second claim contends even from this process.
    const error = await claimJob(dir).then(() => null, (e) => e);
    assert.ok(isLodeError(error, "JOB_RUNNING"), String(error));
    assert.match(error.message, new RegExp(`process ${Deno.pid}\\b`));
    assert.equal(error.details.pid, Deno.pid);
    await first.release();
    assert.equal(await readClaim(claimPath(dir)), null, "released: the file names no holder");
    await using again = await claimJob(dir);
    assert.equal(again.previous, null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the claim of a process that died without releasing it is taken over", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-claim-" });
  try {
    // What a SIGKILLed holder leaves: its name in the file, no lock (the kernel dropped it).
    const dead = { pid: 999_999, pid_start: "1", claimed_at: "2026-01-01T00:00:00.000Z" };
    await Deno.writeTextFile(claimPath(dir), JSON.stringify(dead) + "\n");
    await using claim = await claimJob(dir);
    assert.deepEqual(claim.previous, dead);
    assert.equal((await readClaim(claimPath(dir)))?.pid, Deno.pid);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
