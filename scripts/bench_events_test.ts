import assert from "node:assert/strict";
import { benchListeners, benchStuck, benchSubscriptions } from "./bench_events.ts";

Deno.test("bench_events: every listener and reader gets every event; stuck subscriptions drop the rest", async () => {
  assert.ok(benchListeners(5_000) > 0);
  const subs = await benchSubscriptions(5_000, 10, { bufferSize: 1024, chunk: 256 });
  assert.equal(subs.dropped, 0);
  assert.ok(subs.eventsPerSecond > 0);
  assert.ok(benchStuck(5_000, 3, 100) > 0);
});
