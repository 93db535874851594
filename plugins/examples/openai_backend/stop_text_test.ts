import assert from "node:assert/strict";
import { StopText } from "./stop_text.ts";

Deno.test("StopText: holds back a possible start of a stop string, cuts where the first one begins", () => {
  const stops = new StopText([", she", "\u0000never"]);
  assert.equal(stops.push("Once"), "Once");
  assert.equal(stops.push(", s"), ""); // may be ", she"
  assert.equal(stops.push("aid"), ", said"); // it was not
  assert.equal(stops.push(" hi, sh"), " hi");
  assert.equal(stops.push("e ran"), "");
  assert.equal(stops.stopped, true);
  assert.equal(stops.text, "Once, said hi");
  assert.equal(stops.push("more"), "");
  assert.equal(stops.end(), "");
});

Deno.test("StopText: without a stop string everything is shown; the end releases what was held", () => {
  const none = new StopText([]);
  assert.equal(none.push("a, s"), "a, s");
  const held = new StopText([", she"]);
  assert.equal(held.push("a, s"), "a");
  assert.equal(held.end(), ", s");
  assert.equal(held.text, "a, s");
  assert.equal(held.stopped, false);
  const first = new StopText(["b", "a"]);
  assert.equal(first.push("xaby"), "x"); // the earliest stop wins, whatever its order in the list
});
