/**
 * The event stream's fan-out (src/events/event_stream.ts), in process, with a `file_progress` event:
 *
 * - `listeners`: events/s published to 10 inline listeners (the renderer's and `--json`'s way);
 * - `subscriptions`: events/s carried to 10 `for await` readers with bounded buffers, the producer
 *   publishing in chunks and yielding to the event loop between them (none of the readers may drop);
 * - `stuck`: what the producer pays per event (ns) with one live listener alone, then with 1 and 100
 *   subscriptions that never read (their buffers full after the first events: every later event is
 *   dropped and counted for them).
 *
 * Usage: deno run -A scripts/bench_events.ts [--events 1000000] [--runs 3]
 *
 * @example
 * ```sh
 * deno run -A scripts/bench_events.ts --events 500000
 * ```
 * @module
 */
import { setImmediate } from "node:timers";
import { parseArgs } from "node:util";
import { EventStream } from "../src/events/event_stream.ts";
import type { DownloadEvent } from "../src/events/download_event.ts";
import { median } from "./bench_report.ts";

const EVENT: DownloadEvent = {
  event: "file_progress",
  filename: "model.gguf",
  downloaded_mb: 100,
  total_mb: 1024,
  downloaded_bytes: 104_857_600,
  total_bytes: 1_073_741_824,
  bytes_per_second: 300_000_000,
};

/** Events/s published to `listeners` inline listeners. */
export function benchListeners(events: number, listeners = 10): number {
  const stream = new EventStream();
  let seen = 0;
  for (let i = 0; i < listeners; i++) stream.listen(() => seen++);
  const t0 = performance.now();
  for (let i = 0; i < events; i++) stream.publish("download", EVENT);
  const s = (performance.now() - t0) / 1000;
  if (seen !== events * listeners) throw new Error(`listeners saw ${seen} of ${events * listeners}`);
  return events / s;
}

/**
 * Resolves after every pending microtask ran (the readers' `for await` steps): `setImmediate`, which
 * nested timers' 1–4 ms clamp does not slow, where a `MessageChannel` message interleaves with them.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Events/s carried to `readers` async subscriptions, every one reading every event. */
export async function benchSubscriptions(
  events: number,
  readers = 10,
  options: { bufferSize?: number; chunk?: number } = {},
): Promise<{ eventsPerSecond: number; dropped: number }> {
  const bufferSize = options.bufferSize ?? 1024;
  const chunk = options.chunk ?? 256;
  const stream = new EventStream();
  const subs = Array.from({ length: readers }, () => stream.subscribe({ bufferSize }));
  const reads = subs.map(async (sub) => {
    let n = 0;
    for await (const _ of sub) n++;
    return n;
  });
  const t0 = performance.now();
  for (let i = 0; i < events; i += chunk) {
    for (let j = i; j < Math.min(events, i + chunk); j++) stream.publish("download", EVENT);
    await nextTurn();
  }
  stream.close();
  const counts = await Promise.all(reads);
  const s = (performance.now() - t0) / 1000;
  const dropped = subs.reduce((sum, sub) => sum + sub.dropped, 0);
  const received = counts.reduce((a, b) => a + b, 0);
  // A reader that dropped also read one `dropped` event per gap.
  if (dropped === 0 && received !== events * readers) throw new Error(`readers got ${received}`);
  return { eventsPerSecond: events / s, dropped };
}

/** Nanoseconds the producer spends per event with one listener and `stuck` subscriptions that never read. */
export function benchStuck(events: number, stuck: number, bufferSize = 1024): number {
  const stream = new EventStream();
  let seen = 0;
  stream.listen(() => seen++);
  const subs = Array.from({ length: stuck }, () => stream.subscribe({ bufferSize }));
  const t0 = performance.now();
  for (let i = 0; i < events; i++) stream.publish("download", EVENT);
  const ns = (performance.now() - t0) * 1e6 / events;
  if (seen !== events) throw new Error(`the listener saw ${seen}`);
  for (const sub of subs) {
    if (sub.dropped !== Math.max(0, events - bufferSize)) throw new Error(`dropped ${sub.dropped}`);
    sub.close();
  }
  return ns;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { events: { type: "string", default: "1000000" }, runs: { type: "string", default: "3" } },
  });
  const events = Number(values.events);
  const runs = Number(values.runs);
  const repeat = async <T>(f: () => T | Promise<T>) => {
    const out: T[] = [];
    for (let i = 0; i < runs; i++) out.push(await f());
    return out;
  };
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  console.log(`${fmt(events)} events, ${runs} runs, medians`);
  const listeners = median(await repeat(() => benchListeners(events)));
  console.log(`10 inline listeners:            ${fmt(listeners)} events/s`);
  const subs = await repeat(() => benchSubscriptions(events));
  const perS = median(subs.map((r) => r.eventsPerSecond));
  const dropped = subs.reduce((a, r) => a + r.dropped, 0);
  console.log(`10 subscriptions (for await):   ${fmt(perS)} events/s, ${dropped} dropped`);
  for (const stuck of [0, 1, 100]) {
    const ns = median(await repeat(() => benchStuck(events, stuck)));
    console.log(`producer, 1 listener + ${String(stuck).padStart(3)} stuck: ${ns.toFixed(0)} ns/event`);
  }
}
