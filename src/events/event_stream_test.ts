import assert from "node:assert/strict";
import type { Envelope } from "./envelope.ts";
import { Envelope as EnvelopeSchema } from "./envelope.ts";
import { EventStream } from "./event_stream.ts";

const waiting = (what: string) => ({ event: "waiting", reason: "lock", what }) as const;

/** Reads `n` envelopes from `it`. */
async function take(it: AsyncIterator<Envelope>, n: number): Promise<Envelope[]> {
  const out: Envelope[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

Deno.test("publish: envelopes numbered from 1, stamped, with source and job id; every one parses", () => {
  let t = 1_765_000_000_000;
  const stream = new EventStream({ now: () => t++ });
  const seen: Envelope[] = [];
  stream.listen((e) => seen.push(e));
  const first = stream.publish("download", waiting("a"));
  stream.publish("daemon", { event: "status", status: "ready" }, { jobId: "job-1" });
  stream.publish("store", { event: "path", name: "m", path: "/p" });
  assert.deepEqual(first, {
    v: 1,
    seq: 1,
    time: 1_765_000_000_000,
    source: "download",
    event: waiting("a"),
  });
  assert.deepEqual(seen.map((e) => [e.seq, e.source, e.job_id]), [
    [1, "download", undefined],
    [2, "daemon", "job-1"],
    [3, "store", undefined],
  ]);
  assert.equal("job_id" in seen[0]!, false, "no job_id key without a job");
  for (const e of seen) assert.deepEqual(EnvelopeSchema.parse(JSON.parse(JSON.stringify(e))), e);
  assert.equal(stream.seq, 3);
});

Deno.test("Envelope: the source decides the event's union", () => {
  const base = { v: 1, seq: 1, time: 0 };
  assert.throws(() =>
    EnvelopeSchema.parse({ ...base, source: "download", event: { event: "token", text: "x" } })
  );
  assert.ok(EnvelopeSchema.parse({ ...base, source: "inference", event: { event: "token", text: "x" } }));
  assert.throws(() => EnvelopeSchema.parse({ ...base, v: 2, source: "download", event: waiting("a") }));
});

Deno.test("listen: a throwing listener is isolated; the others and the producer carry on", () => {
  const errors: unknown[] = [];
  const stream = new EventStream({ onListenerError: (e) => errors.push(e) });
  const seen: number[] = [];
  stream.listen(() => {
    throw new Error("renderer bug");
  });
  stream.listen((e) => seen.push(e.seq));
  stream.publish("download", waiting("a"));
  stream.publish("download", waiting("b"));
  assert.deepEqual(seen, [1, 2]);
  assert.equal(errors.length, 2);
  assert.equal(stream.listenerErrors, 2);
});

Deno.test("listen: the returned function stops the listener", () => {
  const stream = new EventStream();
  const seen: number[] = [];
  const stop = stream.listen((e) => seen.push(e.seq));
  stream.publish("download", waiting("a"));
  stop();
  stream.publish("download", waiting("b"));
  assert.deepEqual(seen, [1]);
});

Deno.test("subscribe: a reader that keeps up sees every event in order", async () => {
  const stream = new EventStream();
  const subs = Array.from({ length: 3 }, () => stream.subscribe({ bufferSize: 4 }));
  const reads = subs.map((s) => take(s, 100));
  for (let i = 0; i < 100; i++) {
    stream.publish("download", waiting(String(i)));
    if (i % 4 === 3) await new Promise((r) => setTimeout(r, 0));
  }
  for (const got of await Promise.all(reads)) {
    assert.deepEqual(got.map((e) => e.seq), Array.from({ length: 100 }, (_, i) => i + 1));
  }
});

Deno.test("subscribe: a full buffer drops and counts; the reader gets one `dropped` where its gap is, then what follows", async () => {
  const stream = new EventStream();
  const drops: number[] = [];
  const sub = stream.subscribe({ bufferSize: 3, onDrop: (n) => drops.push(n) });
  for (let i = 1; i <= 10; i++) stream.publish("download", waiting(String(i)));
  assert.equal(sub.dropped, 7);
  assert.deepEqual(drops, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(sub.buffered, 3);
  const first = await take(sub, 2);
  assert.deepEqual(first.map((e) => e.seq), [1, 2]);
  stream.publish("download", waiting("11")); // room again: after the gap
  const rest = await take(sub, 3);
  assert.deepEqual(rest.map((e) => e.seq), [3, 10, 11]);
  assert.deepEqual(rest[1], {
    v: 1,
    seq: 10,
    time: rest[1]!.time,
    source: "stream",
    event: { event: "dropped", count: 7, first_seq: 4, last_seq: 10 },
  });
  assert.ok(EnvelopeSchema.parse(rest[1]));
  sub.close();
  assert.equal((await sub.next()).done, true);
});

Deno.test("subscribe: a reader that catches up on an empty buffer learns of the gap at once", async () => {
  const stream = new EventStream();
  const sub = stream.subscribe({ bufferSize: 1 });
  for (let i = 1; i <= 5; i++) stream.publish("download", waiting(String(i)));
  const got = await take(sub, 2);
  assert.deepEqual(got.map((e) => [e.seq, e.event.event]), [[1, "waiting"], [5, "dropped"]]);
  const next = sub.next();
  stream.publish("download", waiting("6"));
  assert.equal((await next).value?.seq, 6);
});

Deno.test("subscribe: a stuck reader does not hold the producer nor other readers back", async () => {
  const stream = new EventStream();
  const stuck = stream.subscribe({ bufferSize: 8 });
  const live = stream.subscribe({ bufferSize: 8 });
  const read = take(live, 1000);
  for (let i = 0; i < 1000; i++) {
    stream.publish("download", waiting(String(i)));
    if (i % 4 === 3) await new Promise((r) => setTimeout(r, 0));
  }
  assert.equal((await read).length, 1000);
  assert.equal(stuck.buffered, 8);
  assert.equal(stuck.dropped, 992);
  stuck.close();
});

Deno.test("subscribe: `break` ends the subscription; close() ends the stream's subscriptions after what they hold", async () => {
  const stream = new EventStream();
  const a = stream.subscribe();
  stream.publish("download", waiting("1"));
  for await (const e of a) {
    assert.equal(e.seq, 1);
    break;
  }
  assert.equal((await a.next()).done, true);
  const b = stream.subscribe();
  stream.publish("download", waiting("2"));
  stream.close();
  stream.publish("download", waiting("3"));
  assert.deepEqual((await take(b, 10)).map((e) => e.seq), [2]);
});

Deno.test("subscribe: an abort signal ends a waiting reader", async () => {
  const stream = new EventStream();
  const abort = new AbortController();
  const sub = stream.subscribe({ signal: abort.signal });
  const next = sub.next();
  abort.abort();
  assert.equal((await next).done, true);
});

Deno.test("replay: `since` yields the kept envelopes after it, a `dropped` first for those no longer kept", async () => {
  const stream = new EventStream({ replay: 5 });
  for (let i = 1; i <= 8; i++) stream.publish("download", waiting(String(i)));
  assert.deepEqual(stream.kept(5).map((e) => e.seq), [6, 7, 8]);
  const recent = stream.subscribe({ since: 5 });
  stream.publish("download", waiting("9"));
  assert.deepEqual((await take(recent, 4)).map((e) => e.seq), [6, 7, 8, 9]);
  const old = stream.subscribe({ since: 1 });
  const got = await take(old, 6);
  assert.deepEqual(got[0]!.event, { event: "dropped", count: 3, first_seq: 2, last_seq: 4 });
  assert.deepEqual(got.slice(1).map((e) => e.seq), [5, 6, 7, 8, 9]);
  const none = new EventStream().subscribe({ since: 0 });
  assert.equal(none.buffered, 0);
});
