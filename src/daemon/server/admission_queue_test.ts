import assert from "node:assert/strict";
import { isLodeError, LodeError } from "../../errors.ts";
import { type Admission, AdmissionQueue } from "./admission_queue.ts";

/** A clock the test moves by hand. */
function fakeClock() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** The settled state of a promise right now (after pending microtasks run). */
async function state<T>(p: Promise<T>): Promise<"pending" | "fulfilled" | "rejected"> {
  let s: "pending" | "fulfilled" | "rejected" = "pending";
  p.then(() => s = "fulfilled", () => s = "rejected");
  await new Promise((r) => setTimeout(r, 0));
  return s;
}

async function rejection(p: Promise<unknown>): Promise<LodeError> {
  const e = await p.then(() => null, (e) => e);
  assert.ok(e instanceof LodeError, `expected a LodeError, got ${e}`);
  return e;
}

Deno.test("a free slot admits at once with no wait and no position", async () => {
  const clock = fakeClock();
  const queue = new AdmissionQueue({ maxQueue: 4, parallel: 1, now: clock.now });
  const positions: number[] = [];
  const a = await queue.admit({ model: "m", key: "a", onPosition: (p) => positions.push(p) });
  assert.equal(a.waitMs, 0);
  assert.equal(a.signal.aborted, false);
  assert.deepEqual(positions, []);
  assert.deepEqual(queue.stats(), { queued: 0, running: 1, models: { m: { queued: 0, running: 1 } } });
  a.release();
  a.release();
  assert.deepEqual(queue.stats(), { queued: 0, running: 0, models: {} });
});

Deno.test("per-model parallelism: the third waits, is told its position, and its wait is measured", async () => {
  const clock = fakeClock();
  const queue = new AdmissionQueue({ maxQueue: 8, parallel: 2, now: clock.now });
  const a = await queue.admit({ model: "m", key: "a" });
  const b = await queue.admit({ model: "m", key: "b" });
  const positions: Record<string, number[]> = { c: [], d: [] };
  const c = queue.admit({ model: "m", key: "c", onPosition: (p) => positions.c!.push(p) });
  clock.advance(5);
  const d = queue.admit({ model: "m", key: "d", onPosition: (p) => positions.d!.push(p) });
  assert.deepEqual(positions, { c: [1], d: [2] });
  assert.deepEqual(["a", "c", "d", "z"].map((k) => queue.positionOf(k)), [null, 1, 2, null]);
  assert.equal(await state(c), "pending");
  // Another model is not held up by m.
  const other = await queue.admit({ model: "n", key: "x" });
  assert.equal(other.waitMs, 0);
  clock.advance(250);
  a.release();
  const cAdmission = await c;
  assert.equal(cAdmission.waitMs, 255);
  assert.deepEqual(positions, { c: [1], d: [2, 1] });
  assert.equal(queue.positionOf("d"), 1);
  assert.equal(await state(d), "pending");
  clock.advance(100);
  b.release();
  assert.equal((await d).waitMs, 350);
  assert.deepEqual(queue.stats().models.m, { queued: 0, running: 2 });
});

Deno.test("a full queue answers QUEUE_FULL at once; a request that can run is still admitted", async () => {
  const queue = new AdmissionQueue({ maxQueue: 2, parallel: 1 });
  const a = await queue.admit({ model: "m", key: "a" });
  const waiting = [queue.admit({ model: "m", key: "b" }), queue.admit({ model: "m", key: "c" })];
  const full = await rejection(queue.admit({ model: "m", key: "d" }));
  assert.equal(full.code, "QUEUE_FULL");
  assert.deepEqual(full.details, { model: "m", queued: 2, max_queue: 2 });
  // The bound is global: another model's request that would have to wait is refused too…
  const n = await queue.admit({ model: "n", key: "n1" });
  assert.equal((await rejection(queue.admit({ model: "n", key: "n2" }))).code, "QUEUE_FULL");
  // …but one that can run at once is not.
  const o = await queue.admit({ model: "o", key: "o1" });
  assert.equal(queue.stats().queued, 2);
  for (const x of [a, n, o]) x.release();
  for (const p of waiting) (await p).release();
  // With maxQueue 0 nothing ever waits.
  const strict = new AdmissionQueue({ maxQueue: 0, parallel: 1 });
  const s = await strict.admit({ model: "m", key: "1" });
  assert.equal((await rejection(strict.admit({ model: "m", key: "2" }))).code, "QUEUE_FULL");
  s.release();
});

Deno.test("FIFO within a model: waiting requests run in the order they came, late arrivals after them", async () => {
  const queue = new AdmissionQueue({ maxQueue: 100, parallel: 1 });
  const first = await queue.admit({ model: "m", key: "first" });
  const order: string[] = [];
  const pending: Promise<void>[] = [];
  const admit = (key: string, onRun?: () => void) =>
    pending.push(
      queue.admit({ model: "m", key }).then((admission) => {
        order.push(key);
        onRun?.();
        setTimeout(() => admission.release(), 0); // released on a later tick, while others arrive
      }),
    );
  // While the line drains, each of the first 10 to run brings a newcomer: it must wait behind everyone.
  for (let i = 0; i < 50; i++) admit(`k${i}`, i < 10 ? () => admit(`late${i}`) : undefined);
  first.release();
  while (order.length < 60) await Promise.all(pending);
  assert.deepEqual(order, [
    ...Array.from({ length: 50 }, (_, i) => `k${i}`),
    ...Array.from({ length: 10 }, (_, i) => `late${i}`),
  ]);
});

Deno.test("cancel: a waiting entry leaves (CANCELLED), the ones behind move up; a running one is aborted", async () => {
  const queue = new AdmissionQueue({ maxQueue: 8, parallel: 1 });
  const running = await queue.admit({ model: "m", key: "run" });
  const positions: number[] = [];
  const b = queue.admit({ model: "m", key: "b" });
  const c = queue.admit({ model: "m", key: "c", onPosition: (p) => positions.push(p) });
  assert.equal(queue.cancel("b"), "queued");
  const e = await rejection(b);
  assert.equal(e.code, "CANCELLED");
  assert.equal(e.exitCode, 130);
  assert.deepEqual(positions, [2, 1]);
  assert.equal(queue.stats().queued, 1);
  // Running: the signal is aborted with CANCELLED; the slot stays taken until the holder releases.
  assert.equal(queue.cancel("run"), "running");
  assert.equal(queue.cancel("run"), "running");
  assert.equal(running.signal.aborted, true);
  assert.ok(isLodeError(running.signal.reason, "CANCELLED"));
  assert.equal(await state(c), "pending");
  running.release();
  const cAdmission = await c;
  assert.equal(queue.cancel("run"), "not_found");
  assert.equal(queue.cancel("never"), "not_found");
  cAdmission.release();
});

Deno.test("the request's own signal (its client went away) cancels it waiting or running", async () => {
  const queue = new AdmissionQueue({ maxQueue: 8, parallel: 1 });
  const clientA = new AbortController();
  const a = await queue.admit({ model: "m", key: "a", signal: clientA.signal });
  const clientB = new AbortController();
  const b = queue.admit({ model: "m", key: "b", signal: clientB.signal });
  clientB.abort();
  assert.equal((await rejection(b)).code, "CANCELLED");
  clientA.abort();
  assert.equal(a.signal.aborted, true);
  a.release();
  assert.deepEqual(queue.stats(), { queued: 0, running: 0, models: {} });
  // Already aborted: refused before it queues.
  assert.equal(
    (await rejection(queue.admit({ model: "m", key: "c", signal: AbortSignal.abort() }))).code,
    "CANCELLED",
  );
  // After release, aborting the client's signal does nothing (the listener was removed).
  const client = new AbortController();
  const d = await queue.admit({ model: "m", key: "d", signal: client.signal });
  d.release();
  client.abort();
  assert.equal(d.signal.aborted, false);
});

Deno.test("a key in use is BAD_REQUEST; it can be used again once released", async () => {
  const queue = new AdmissionQueue({ maxQueue: 8, parallel: 1 });
  const a = await queue.admit({ model: "m", key: "same" });
  const dup = await rejection(queue.admit({ model: "other", key: "same" }));
  assert.equal(dup.code, "BAD_REQUEST");
  assert.deepEqual(dup.details, { field: "id" });
  a.release();
  (await queue.admit({ model: "m", key: "same" })).release();
});

Deno.test("drain: new requests get DRAINING, waiting ones still run, it resolves when all are done", async () => {
  const queue = new AdmissionQueue({ maxQueue: 8, parallel: 1 });
  const a = await queue.admit({ model: "m", key: "a" });
  const b = queue.admit({ model: "m", key: "b" });
  const drained = queue.drain();
  assert.equal(queue.draining, true);
  const refused = await rejection(queue.admit({ model: "n", key: "c" }));
  assert.equal(refused.code, "DRAINING");
  assert.equal(refused.exitCode, 6);
  assert.equal(await state(drained), "pending");
  a.release();
  const bAdmission: Admission = await b;
  assert.equal(await state(drained), "pending");
  bAdmission.release();
  await drained;
  await queue.drain(); // idle: resolves at once
});

Deno.test("cancelAll: waiting requests reject with the reason, running ones are aborted", async () => {
  const queue = new AdmissionQueue({ maxQueue: 8, parallel: 1 });
  const a = await queue.admit({ model: "m", key: "a" });
  const b = queue.admit({ model: "m", key: "b" });
  const c = queue.admit({ model: "n", key: "c" });
  const reason = new LodeError("DRAINING", "grace period over");
  queue.cancelAll(reason);
  assert.equal((await rejection(b)).code, "DRAINING");
  assert.equal(a.signal.reason, reason);
  const cAdmission = await c; // c was running (its model was free), so it is aborted, not rejected
  assert.equal(cAdmission.signal.aborted, true);
  a.release();
  cAdmission.release();
  assert.deepEqual(queue.stats(), { queued: 0, running: 0, models: {} });
});

Deno.test("options are checked: parallel ≥ 1, maxQueue ≥ 0", () => {
  assert.throws(() => new AdmissionQueue({ maxQueue: 1, parallel: 0 }), /--parallel/);
  assert.throws(() => new AdmissionQueue({ maxQueue: -1, parallel: 1 }), /--max-queue/);
  assert.throws(() => new AdmissionQueue({ maxQueue: 1.5, parallel: 1 }), /--max-queue/);
});
