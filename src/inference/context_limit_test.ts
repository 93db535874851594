import assert from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import {
  checkFitsContext,
  contextLengthExceeded,
  fitsContext,
  tokensAtLeast,
  utf8Length,
} from "./context_limit.ts";

Deno.test("fitsContext: room for one generated token, and for what a backend keeps free", () => {
  assert.equal(fitsContext(2047, 2048), true);
  assert.equal(fitsContext(2048, 2048), false);
  assert.equal(fitsContext(4004, 2048), false);
  assert.equal(fitsContext(2046, 2048, 1), true);
  assert.equal(fitsContext(2047, 2048, 1), false);
});

Deno.test("contextLengthExceeded names both numbers, the context needed, and what the input is", () => {
  const prompt = contextLengthExceeded({
    input: { kind: "prompt" },
    count: { tokens: 4004, exact: true },
    contextSize: 2048,
    details: { path: "m.gguf" },
  });
  assert.equal(prompt.code, "CONTEXT_LENGTH_EXCEEDED");
  assert.equal(prompt.exitCode, 2);
  assert.equal(
    prompt.message,
    "the prompt is 4004 tokens and the context holds 2048: it needs a context of at least 4005 tokens " +
      "(the prompt and one generated token)",
  );
  assert.deepEqual(prompt.details, {
    path: "m.gguf",
    prompt_tokens: 4004,
    context_size: 2048,
    needed_context_size: 4005,
    exact: true,
  });
  const chat = contextLengthExceeded({
    input: { kind: "conversation" },
    count: { tokens: 349526, exact: false, bytes: 3145728 },
    contextSize: 2048,
    reserved: 1,
  });
  assert.equal(
    chat.message,
    "the conversation (its chat template applied) is at least 349526 tokens (3145728 bytes) and the context " +
      "holds 2048: it needs a context of at least 349528 tokens (the conversation, one generated token and 1 " +
      "more the chat engine keeps free)",
  );
  assert.deepEqual([chat.details.exact, chat.details.bytes], [false, 3145728]);
  const text = contextLengthExceeded({
    input: { kind: "text", index: 2 },
    count: { tokens: 600, exact: true },
    contextSize: 512,
  });
  assert.match(
    text.message,
    /^text 2 is 600 tokens and the context holds 512: .*shorter than the context\)$/,
  );
  assert.equal(text.details.index, 2);
});

Deno.test("checkFitsContext throws only for an input that does not fit", () => {
  const check = { input: { kind: "prompt" as const }, contextSize: 512 };
  checkFitsContext({ ...check, count: { tokens: 511, exact: true } });
  assert.throws(
    () => checkFitsContext({ ...check, count: { tokens: 512, exact: true } }),
    (e: unknown) => isLodeError(e, "CONTEXT_LENGTH_EXCEEDED") && e.details.prompt_tokens === 512,
  );
});

Deno.test("tokensAtLeast and utf8Length: a lower bound from bytes", () => {
  assert.equal(tokensAtLeast(3 * 1024 * 1024, 9), 349526);
  assert.equal(tokensAtLeast(10, 0), 10);
  for (const text of ["", "abc", "é", "漢字", "🙂", "a🙂é\n", "\ud800 lone surrogate", "end \udc00"]) {
    assert.equal(utf8Length(text), new TextEncoder().encode(text).length, JSON.stringify(text));
  }
});
