import assert from "node:assert/strict";
import { DEFAULT_GGUF_LIMITS, resolveLimits } from "./limits.ts";

Deno.test("resolveLimits: defaults, overrides, and refusals", () => {
  assert.deepEqual(resolveLimits(), DEFAULT_GGUF_LIMITS);
  assert.equal(resolveLimits({ maxHeaderBytes: 1000 }).maxHeaderBytes, 1000);
  assert.equal(resolveLimits({ maxKvCount: undefined }).maxKvCount, DEFAULT_GGUF_LIMITS.maxKvCount);
  assert.equal(resolveLimits({ keepArrayItems: Infinity }).keepArrayItems, Infinity);
  assert.throws(() => resolveLimits({ maxHeaderBytes: Infinity }), /non-negative integer/);
  assert.throws(() => resolveLimits({ maxKvCount: -1 }), /non-negative integer/);
  assert.throws(() => resolveLimits({ maxStringBytes: 1.5 }), /non-negative integer/);
  assert.throws(() => resolveLimits({ nope: 1 } as never), /unknown GGUF limit "nope"/);
  // The defaults allow real vocabularies (Gemma 3: 262144 tokens) and refuse absurd counts.
  assert.ok(DEFAULT_GGUF_LIMITS.maxArrayLength >= 262_144);
  assert.ok(DEFAULT_GGUF_LIMITS.maxHeaderBytes <= 64 * 1024 * 1024);
});
