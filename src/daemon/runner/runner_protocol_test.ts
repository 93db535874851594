import assert from "node:assert/strict";
import { decodeRunnerReply, decodeRunnerRequest } from "./runner_protocol.ts";

Deno.test("decodeRunnerRequest: a request, or INTERNAL naming the field, what was expected and found (with its id)", () => {
  assert.deepEqual(decodeRunnerRequest('{"id":1,"op":"tokenize","text":"hi"}'), {
    ok: true,
    request: { id: 1, op: "tokenize", text: "hi" },
  });
  const bad = decodeRunnerRequest('{"id":4,"op":"detokenize","tokens":[1,"x"]}');
  assert.ok(!bad.ok);
  assert.equal(bad.id, 4);
  assert.equal(bad.error.code, "INTERNAL");
  assert.equal(bad.error.message, 'a runner request is invalid at tokens[1]: expected a number, found "x"');
  assert.deepEqual(bad.error.details, {
    field: "tokens[1]",
    issues: [{
      path: "tokens[1]",
      expected: "a number",
      received: '"x"',
      message: 'expected a number, found "x"',
    }],
  });
  const op = decodeRunnerRequest('{"id":5,"op":"explode"}');
  assert.ok(!op.ok);
  assert.equal(op.id, 5);
  assert.match(op.error.message, /at op: expected one of "load", "generate"/);
  const garbage = decodeRunnerRequest("{not json");
  assert.ok(!garbage.ok);
  assert.equal(garbage.id, null);
  assert.match(garbage.error.message, /^a runner request is not valid JSON at line 1, column 2/);
});

Deno.test("decodeRunnerReply: replies by shape, status events fully; anything else is null", () => {
  assert.deepEqual(decodeRunnerReply('{"id":3,"type":"chunks","texts":[" once"]}'), {
    id: 3,
    type: "chunks",
    texts: [" once"],
  });
  assert.equal(decodeRunnerReply("llama.cpp says hi"), null);
  assert.equal(decodeRunnerReply('{"id":3,"type":"chunks","texts":[1]}'), null);
});
