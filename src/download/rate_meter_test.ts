import assert from "node:assert/strict";
import { RateMeter } from "./rate_meter.ts";

/** A clock the test moves by hand. */
function manualClock(start = 1000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => t += ms };
}

const MB = 1_000_000;

Deno.test("RateMeter: starts at zero", () => {
  const clock = manualClock();
  assert.equal(new RateMeter(clock.now).bytesPerSecond, 0);
});

Deno.test("RateMeter: a steady 10 MB/s converges to 10 MB/s", () => {
  const clock = manualClock();
  const meter = new RateMeter(clock.now);
  let bytes = 0;
  for (let i = 0; i < 50; i++) {
    clock.advance(100);
    bytes += 1 * MB; // 1 MB per 100 ms
    meter.update(bytes);
  }
  assert.ok(Math.abs(meter.bytesPerSecond - 10 * MB) < 0.01 * MB, String(meter.bytesPerSecond));
});

Deno.test("RateMeter: uneven update intervals at a steady rate still read 10 MB/s", () => {
  const clock = manualClock();
  const meter = new RateMeter(clock.now);
  let bytes = 0;
  for (const ms of [7, 130, 45, 300, 1, 999, 60, 250, 16, 400]) {
    clock.advance(ms);
    bytes += ms * 10_000; // 10 MB/s
    meter.update(bytes);
  }
  assert.ok(Math.abs(meter.bytesPerSecond - 10 * MB) < 0.01 * MB, String(meter.bytesPerSecond));
});

Deno.test("RateMeter: smooths a change of rate over about a second (half-life 1 s)", () => {
  const clock = manualClock();
  const meter = new RateMeter(clock.now);
  let bytes = 0;
  const run = (seconds: number, rate: number) => {
    for (let i = 0; i < seconds * 10; i++) {
      clock.advance(100);
      bytes += rate / 10;
      meter.update(bytes);
    }
  };
  run(10, 10 * MB);
  run(1, 20 * MB); // one half-life at the new rate: about halfway there
  assert.ok(Math.abs(meter.bytesPerSecond - 15 * MB) < 0.1 * MB, String(meter.bytesPerSecond));
  run(10, 20 * MB);
  assert.ok(Math.abs(meter.bytesPerSecond - 20 * MB) < 0.05 * MB, String(meter.bytesPerSecond));
});

Deno.test("RateMeter: updates with no elapsed time are ignored; a stall decays toward zero", () => {
  const clock = manualClock();
  const meter = new RateMeter(clock.now);
  clock.advance(100);
  meter.update(1 * MB);
  const rate = meter.bytesPerSecond;
  assert.equal(rate, 10 * MB);
  meter.update(5 * MB); // same instant: ignored, no division by zero
  assert.equal(meter.bytesPerSecond, rate);
  for (let i = 0; i < 200; i++) {
    clock.advance(100);
    meter.update(5 * MB); // the bytes of the ignored update arrive, then nothing for 20 s
  }
  assert.ok(meter.bytesPerSecond < 0.01 * MB, String(meter.bytesPerSecond));
  assert.ok(meter.bytesPerSecond >= 0);
});
