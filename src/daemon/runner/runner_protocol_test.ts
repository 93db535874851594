import assert from "node:assert/strict";
import { LodeError } from "../../errors.ts";
import {
  checkRunnerCall,
  decodeHostFrame,
  decodeRunnerFrame,
  fromWireError,
  toWireError,
} from "./runner_protocol.ts";

Deno.test("decodeHostFrame: a frame of the plugin protocol, or INTERNAL naming the field (with its id)", () => {
  assert.deepEqual(
    decodeHostFrame('{"type":"call","id":1,"hook":"session.tokenize","params":{"text":"hi"}}'),
    {
      ok: true,
      frame: { type: "call", id: 1, hook: "session.tokenize", params: { text: "hi" } },
    },
  );
  const bad = decodeHostFrame('{"type":"call","id":4,"hook":7}');
  assert.ok(!bad.ok);
  assert.equal(bad.id, 4);
  assert.equal(bad.error.code, "INTERNAL");
  assert.equal(bad.error.message, "a frame of the daemon is invalid at hook: expected a string, found 7");
  const garbage = decodeHostFrame("{not json");
  assert.ok(!garbage.ok);
  assert.equal(garbage.id, null);
  assert.match(garbage.error.message, /^a frame of the daemon is not valid JSON at line 1, column 2/);
});

Deno.test("checkRunnerCall: each hook's params checked; an unknown hook is null", () => {
  assert.deepEqual(checkRunnerCall("session.detokenize", { session: "s1", tokens: [1, 2] }), {
    hook: "session.detokenize",
    params: { session: "s1", tokens: [1, 2] },
  });
  assert.throws(
    () => checkRunnerCall("session.detokenize", { session: "s1", tokens: [1, "x"] }),
    (e: unknown) =>
      e instanceof LodeError && e.code === "INTERNAL" &&
      e.message === 'a session.detokenize call is invalid at tokens[1]: expected a number, found "x"',
  );
  assert.equal(checkRunnerCall("registry.resolve", {}), null);
});

Deno.test("decodeRunnerFrame: frames by shape, a hello fully; anything else is null", () => {
  assert.deepEqual(decodeRunnerFrame('{"type":"progress","id":3,"data":{"texts":[" once"]}}'), {
    type: "progress",
    id: 3,
    data: { texts: [" once"] },
  });
  assert.equal(decodeRunnerFrame("llama.cpp says hi"), null);
  assert.equal(decodeRunnerFrame('{"type":"progress","id":3}'), null);
  assert.equal(decodeRunnerFrame('{"type":"hello","protocol":[]}'), null);
});

Deno.test("errors cross the protocol with their code, message, hint and details", () => {
  const error = new LodeError("CONTEXT_LENGTH_EXCEEDED", "too long", {
    details: { tokens: 9 },
    hint: "shorter",
  });
  const back = fromWireError(toWireError(error, false));
  assert.deepEqual([back.code, back.message, back.hint, back.details], [
    "CONTEXT_LENGTH_EXCEEDED",
    "too long",
    "shorter",
    { tokens: 9 },
  ]);
  assert.equal(toWireError(error, true).kind, "cancelled");
  const unknown = fromWireError({ kind: "failed", code: "NOPE", message: "x" });
  assert.deepEqual([unknown.code, unknown.details.runner_code], ["INTERNAL", "NOPE"]);
});
