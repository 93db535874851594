/** WaitClock on an injected clock: pending reads count while pending, ended ones stay counted. */
import assert from "node:assert/strict";
import { WaitClock } from "./wait_clock.ts";

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
