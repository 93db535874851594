import assert from "node:assert/strict";
import { StopScanner } from "./stop_scanner.ts";

/** Feeds `chunks`, returns the emitted text and whether it stopped. */
function run(stops: string[], chunks: string[]): { text: string; stopped: boolean } {
  const scanner = new StopScanner(stops);
  let text = "";
  for (const chunk of chunks) {
    const step = scanner.push(chunk);
    text += step.text;
    if (step.stopped) return { text, stopped: true };
  }
  return { text: text + scanner.flush(), stopped: false };
}

Deno.test("StopScanner: a stop string spanning chunks ends the text before it", () => {
  assert.deepEqual(run(["the park"], ["She played in", " the pa", "rk. One day"]), {
    text: "She played in ",
    stopped: true,
  });
  assert.deepEqual(run([", she"], ["One day", ",", " s", "he saw"]), { text: "One day", stopped: true });
});

Deno.test("StopScanner: the earliest of several stop strings wins; one inside a chunk too", () => {
  assert.deepEqual(run(["ball", "red"], ["a big, red ball"]), { text: "a big, ", stopped: true });
  assert.deepEqual(run(["\n"], ["line one\nline two"]), { text: "line one", stopped: true });
});

Deno.test("StopScanner: a near miss is released in full; without stops everything passes at once", () => {
  assert.deepEqual(run(["the park"], ["the pa", "th", " is long"]), {
    text: "the path is long",
    stopped: false,
  });
  const scanner = new StopScanner(["xyz"]);
  assert.deepEqual(scanner.push("abcx"), { text: "abc", stopped: false }); // "x" could start "xyz"
  assert.deepEqual(scanner.push("y"), { text: "", stopped: false });
  assert.equal(scanner.flush(), "xy");
  assert.deepEqual(new StopScanner([]).push("anything"), { text: "anything", stopped: false });
});

Deno.test("StopScanner: nothing is released after a stop; empty stop strings are refused", () => {
  const scanner = new StopScanner(["."]);
  assert.deepEqual(scanner.push("end. more"), { text: "end", stopped: true });
  assert.deepEqual(scanner.push("more"), { text: "", stopped: true });
  assert.equal(scanner.flush(), "");
  assert.throws(() => new StopScanner([""]), RangeError);
});
