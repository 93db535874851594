import assert from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import { formatDuration, parseDuration } from "./gc_duration.ts";

Deno.test("parseDuration: the units gc accepts", () => {
  assert.equal(parseDuration("30m"), 30 * 60_000);
  assert.equal(parseDuration("12h"), 12 * 3_600_000);
  assert.equal(parseDuration("7d"), 7 * 86_400_000);
  assert.equal(parseDuration("1.5h"), 5_400_000);
  assert.equal(parseDuration("0s"), 0);
  assert.equal(parseDuration("2w"), 14 * 86_400_000);
});

Deno.test("parseDuration: anything else is USAGE with the accepted forms", () => {
  for (const bad of ["", "7", "d", "-1h", "1y", "1h30m", "1 h"]) {
    assert.throws(
      () => parseDuration(bad),
      (e) => isLodeError(e, "USAGE") && /30m, 12h, 7d/.test(e.hint),
      bad,
    );
  }
});

Deno.test("formatDuration: two largest units", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(90_000), "1m 30s");
  assert.equal(formatDuration(3 * 86_400_000 + 4 * 3_600_000 + 5000), "3d 4h");
});
