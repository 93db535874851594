import assert from "node:assert/strict";
import type { Envelope } from "../events/envelope.ts";
import { EventStream } from "../events/event_stream.ts";
import { attachSinks, type EventSink, type SinkNotice } from "./sink_runner.ts";

const waiting = (what: string) => ({ event: "waiting", reason: "lock", what }) as const;

/** A sink that keeps what it receives. */
function memorySink(name = "memory"): EventSink & { seen: Envelope[]; closed: boolean } {
  const sink = {
    name,
    seen: [] as Envelope[],
    closed: false,
    event(e: Envelope) {
      sink.seen.push(e);
    },
    close() {
      sink.closed = true;
      return Promise.resolve();
    },
  };
  return sink;
}

/** A sink whose `event` never returns. */
function hungSink(): EventSink & { calls: number } {
  const sink = {
    name: "hung",
    calls: 0,
    event() {
      sink.calls++;
      return new Promise<void>(() => {});
    },
    close: () => Promise.resolve(),
  };
  return sink;
}

/** A sink that throws on every event. */
function throwingSink(): EventSink & { calls: number } {
  const sink = {
    name: "thrower",
    calls: 0,
    event() {
      sink.calls++;
      throw new Error("sink bug");
    },
    close: () => Promise.resolve(),
  };
  return sink;
}

/** Lets every pending promise callback run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("attachSinks: a hung and a throwing sink neither hold the producer nor the other sinks", async () => {
  const stream = new EventStream();
  const notices: SinkNotice[] = [];
  const hung = hungSink();
  const thrower = throwingSink();
  const memory = memorySink();
  const attached = attachSinks(stream, [hung, thrower, memory], {
    bufferSize: 64,
    graceMs: 50,
    onNotice: (n) => notices.push(n),
  });
  // The producer publishes in bursts of 32 (within every buffer), letting the readers run between bursts.
  const total = 3200;
  let published = 0;
  for (let burst = 0; burst < total / 32; burst++) {
    for (let i = 0; i < 32; i++) {
      stream.publish("download", waiting(`m${published}`));
      published++;
    }
    await settle();
  }
  assert.equal(published, total, "every publish returned");
  assert.equal(memory.seen.length, total, "the healthy sink received every event");
  assert.deepEqual(memory.seen.map((e) => e.seq), Array.from({ length: total }, (_, i) => i + 1));
  assert.equal(thrower.calls, total, "the throwing sink was handed every event");
  assert.equal(hung.calls, 1, "the hung sink is stuck in its first call");
  const stats = attached.stats();
  assert.equal(stats.memory!.dropped, 0);
  assert.equal(stats.thrower!.failed, total);
  assert.equal(stats.hung!.dropped, total - 1 - 64, "the hung sink's buffer holds 64; the rest dropped");
  await attached.close();
  assert.ok(memory.closed, "close flushed the healthy sink");
  const failed = notices.filter((n) => n.kind === "failed");
  assert.equal(failed.length, total);
  assert.ok(failed.every((n) => n.sink === "thrower" && (n.error as Error).message === "sink bug"));
  const dropped = notices.filter((n) => n.kind === "dropped");
  assert.deepEqual(dropped, [{ kind: "dropped", sink: "hung", count: total - 1 - 64 }]);
  assert.deepEqual(notices.filter((n) => n.kind === "timeout"), [{
    kind: "timeout",
    sink: "hung",
    pending: 64,
  }]);
});

Deno.test("attachSinks: a sink that falls behind receives a dropped event where its gap is", async () => {
  const stream = new EventStream();
  const memory = memorySink();
  const notices: SinkNotice[] = [];
  const attached = attachSinks(stream, [memory], { bufferSize: 4, onNotice: (n) => notices.push(n) });
  for (let i = 0; i < 10; i++) stream.publish("download", waiting(`m${i}`)); // no await: the sink is behind
  await attached.close();
  const kinds = memory.seen.map((e) => e.source === "stream" ? `dropped ${e.event.count}` : String(e.seq));
  // The reader was already waiting when the first envelope came: it takes seq 1, then 4 buffered.
  assert.deepEqual(kinds, ["1", "2", "3", "4", "5", "dropped 5"]);
  assert.deepEqual(notices, [{ kind: "dropped", sink: "memory", count: 5 }]);
  assert.equal(attached.stats().memory!.dropped, 5);
});

Deno.test("attachSinks: close lets a slow sink finish its buffer and flush", async () => {
  const stream = new EventStream();
  const seen: number[] = [];
  let flushed = false;
  const slow: EventSink = {
    name: "slow",
    async event(e) {
      await settle();
      seen.push(e.seq);
    },
    close() {
      flushed = true;
      return Promise.resolve();
    },
  };
  const attached = attachSinks(stream, [slow], { bufferSize: 100 });
  for (let i = 0; i < 50; i++) stream.publish("download", waiting(`m${i}`));
  await attached.close();
  assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => i + 1));
  assert.ok(flushed);
  await attached.close(); // a second close is the first one
});

Deno.test("attachSinks: a close that throws is reported with the sink's name", async () => {
  const stream = new EventStream();
  const notices: SinkNotice[] = [];
  const bad: EventSink = {
    name: "bad-close",
    event() {},
    close: () => Promise.reject(new Error("disk gone")),
  };
  await attachSinks(stream, [bad], { onNotice: (n) => notices.push(n) }).close();
  assert.equal(notices.length, 1);
  assert.equal(notices[0]!.kind, "failed");
  assert.equal(notices[0]!.sink, "bad-close");
});
