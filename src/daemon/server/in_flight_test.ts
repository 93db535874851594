import assert from "node:assert/strict";
import type { LodeError } from "../../errors.ts";
import { drainingError, InFlightSet } from "./in_flight.ts";

Deno.test("InFlightSet.drain: nothing in flight resolves 0 at once, without stopping", async () => {
  const requests = new InFlightSet<string>();
  assert.equal(await requests.drain(60_000, () => assert.fail("nothing to stop")), 0);
});

Deno.test("InFlightSet.drain: requests that end within the grace period are not stopped", async () => {
  const requests = new InFlightSet<string>();
  requests.add("a");
  requests.add("b");
  setTimeout(() => requests.delete("a"), 5);
  setTimeout(() => requests.delete("b"), 10);
  assert.equal(await requests.drain(60_000, () => assert.fail("nothing to stop")), 0);
  assert.equal(requests.size, 0);
});

Deno.test("InFlightSet.drain: after the grace period the rest are stopped with DRAINING and counted", async () => {
  const requests = new InFlightSet<AbortController>();
  const finished = new AbortController();
  const stuck = [new AbortController(), new AbortController()];
  for (const c of [finished, ...stuck]) {
    requests.add(c);
    c.signal.addEventListener("abort", () => requests.delete(c));
  }
  setTimeout(() => finished.abort(), 1);
  const reasons: LodeError[] = [];
  const stopped = await requests.drain(30, (reason) => {
    reasons.push(reason);
    for (const c of requests.values()) c.abort(reason);
  });
  assert.equal(stopped, 2);
  assert.equal(reasons.length, 1);
  assert.equal(reasons[0]!.code, "DRAINING");
  assert.match(reasons[0]!.message, /grace period 30 ms/);
  for (const c of stuck) assert.equal(c.signal.reason, reasons[0]);
  assert.equal(requests.size, 0);
});

Deno.test("InFlightSet.whenIdle waits for the last one out; drainingError is DRAINING", async () => {
  const requests = new InFlightSet<number>();
  requests.add(1);
  requests.add(2);
  let idle = false;
  const waiting = requests.whenIdle().then(() => idle = true);
  requests.delete(1);
  await Promise.resolve();
  assert.equal(idle, false);
  requests.delete(2);
  await waiting;
  assert.equal(idle, true);
  assert.equal(drainingError().code, "DRAINING");
});
