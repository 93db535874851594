import assert from "node:assert/strict";
import { runVariant, VARIANTS } from "./bench_framing.ts";

Deno.test("bench_framing: every variant answers every request (real vocabulary, in-memory connection)", async () => {
  for (const variant of VARIANTS) {
    const us = await runVariant(variant, "tokenize", 2_000);
    assert.ok(Number.isFinite(us) && us > 0, `${variant}: ${us}`);
  }
  assert.ok(await runVariant("server", "health", 2_000) > 0);
});
