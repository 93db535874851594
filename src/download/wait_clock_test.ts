/** WaitClock on an injected clock: pending reads count while pending, ended ones stay counted. */
import assert from "node:assert/strict";
import { threadRunQueueMs, WaitClock } from "./wait_clock.ts";

Deno.test("WaitClock: a read still pending counts up to now; two pending reads count twice; an end is counted once", () => {
  let now = 1000;
  const clock = new WaitClock(() => now);
  assert.equal(clock.ms(), 0);
  const first = clock.begin();
  now += 50;
  assert.equal(clock.ms(), 50, "the pending read has waited 50 ms already");
  const second = clock.begin();
  now += 10;
  assert.equal(clock.ms(), 70);
  first();
  first();
  now += 5;
  assert.equal(clock.ms(), 75, "the ended read no longer counts, the other does");
  second();
  now += 100;
  assert.equal(clock.ms(), 75, "nothing pending: no more waiting");
});

Deno.test("WaitClock: the run-queue time comes from the injected reader; the thread's own is a count of ms", () => {
  let queued = 5;
  const clock = new WaitClock(() => 0, () => queued);
  assert.equal(clock.runQueueMs(), 5);
  queued = 12.5;
  assert.equal(clock.runQueueMs(), 12.5);
  const own = threadRunQueueMs();
  assert.ok(Number.isFinite(own) && own >= 0, `threadRunQueueMs() = ${own}`);
  if (Deno.build.os === "linux") {
    // Busy work on this thread never lowers it.
    let x = 0;
    for (let i = 0; i < 1e6; i++) x += i;
    assert.ok(threadRunQueueMs() >= own, String(x));
  }
});
