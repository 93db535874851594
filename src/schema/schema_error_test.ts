import assert from "node:assert/strict";
import { z } from "zod";
import { isLodeError, LodeError } from "../errors.ts";
import { checkSchema, parseJson, parseJsonText, type SchemaBoundary, schemaError } from "./schema_error.ts";

const FILE: SchemaBoundary = { code: "CONFIG_INVALID", subject: "config file c.json", file: "c.json" };
const FRAME: SchemaBoundary = { code: "BAD_REQUEST", subject: "generate request" };

function thrown(f: () => unknown): LodeError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof LodeError, String(e));
    return e;
  }
  assert.fail("no error");
}

Deno.test("parseJson: one issue on one line with the file and line; details file, line, field, issues", () => {
  const S = z.object({ store: z.string().optional(), hosts: z.array(z.string()).optional() }).strict();
  const e = thrown(() => parseJson(S, '{\n  "hosts": ["a"],\n  "store": 5\n}\n', FILE));
  assert.ok(isLodeError(e, "CONFIG_INVALID"));
  assert.equal(e.message, "config file c.json is invalid at line 3, store: expected a string, found 5");
  assert.deepEqual(e.details, {
    file: "c.json",
    line: 3,
    field: "store",
    issues: [{
      path: "store",
      line: 3,
      expected: "a string",
      received: "5",
      message: "expected a string, found 5",
    }],
  });
  assert.equal(e.hint, new LodeError("CONFIG_INVALID", "").hint);
});

Deno.test("issues in a file are listed top to bottom", () => {
  const S = z.object({ a: z.string(), b: z.string() });
  const e = thrown(() => parseJson(S, '{\n  "b": 1,\n  "a": 2\n}', FILE));
  assert.deepEqual((e.details.issues as { path: string }[]).map((i) => i.path), ["b", "a"]);
  assert.equal(e.details.field, "b");
});

Deno.test("several issues: one line each, at most ten listed, the rest counted", () => {
  const S = z.object({ hosts: z.array(z.string()) });
  const two = thrown(() => parseJson(S, '{"hosts": [\n  1,\n  "b",\n  true\n]}', FILE));
  assert.equal(
    two.message,
    "config file c.json is invalid (2 problems):\n" +
      "  line 2, hosts[0]: expected a string, found 1\n" +
      "  line 4, hosts[2]: expected a string, found true",
  );
  assert.equal(two.details.line, 2);
  const many = Array.from({ length: 25 }, (_, i) => i);
  const e = thrown(() => checkSchema(S, { hosts: many }, FRAME));
  const lines = e.message.split("\n");
  assert.equal(lines[0], "generate request is invalid (25 problems):");
  assert.equal(lines.length, 1 + 10 + 1);
  assert.equal(lines.at(-1), "  … and 15 more");
  assert.equal((e.details.issues as unknown[]).length, 10);
  assert.equal(e.details.issue_count, 25);
});

Deno.test("input that is not a file: no file or line in details; a boundary's own details and hint are kept", () => {
  const S = z.object({ prompt: z.string() });
  const e = thrown(() =>
    checkSchema(S, {}, { ...FRAME, hint: "Send a prompt.", details: { request_id: "7" } })
  );
  assert.equal(e.message, "generate request is invalid at prompt: missing (expected a string)");
  assert.equal(e.hint, "Send a prompt.");
  assert.deepEqual(e.details, {
    request_id: "7",
    field: "prompt",
    issues: [{
      path: "prompt",
      expected: "a string",
      received: "nothing",
      message: "missing (expected a string)",
    }],
  });
  assert.equal(checkSchema(S, { prompt: "p" }, FRAME).prompt, "p");
});

Deno.test("an item of a list that has a name is named in the message, not in details", () => {
  const S = z.object({ models: z.array(z.object({ name: z.string(), size: z.number() })) });
  const text = JSON.stringify({ models: [{ name: "a", size: 1 }, { name: "b", size: "x" }] }, null, 2);
  const e = thrown(() => parseJson(S, text, FILE));
  assert.match(e.message, /at line 9, models\[1\] \("b"\)\.size: expected a number, found "x"$/);
  assert.equal(e.details.field, "models[1].size");
});

Deno.test("parseJsonText: a syntax error names its line (and column when the parser gives one); empty text is said", () => {
  const at = thrown(() => parseJsonText('{\n  "a": 1,\n  "b": [,]\n}', FILE));
  assert.match(at.message, /^config file c\.json is not valid JSON at line 3(, column \d+)?: /);
  assert.equal(at.details.line, 3);
  assert.equal(at.details.field, "(root)");
  const [issue] = at.details.issues as Record<string, unknown>[];
  assert.equal(issue!.expected, "JSON");
  assert.doesNotMatch(at.message, /is not valid JSON.*is not valid JSON/);
  const token = thrown(() => parseJsonText("{\n\n  x\n}", FILE));
  assert.match(token.message, /not valid JSON at line 3/);
  assert.doesNotMatch(token.message, /"\{/, "the parser's quote of the text is left out");
  const empty = thrown(() => parseJsonText("  \n", FILE));
  assert.equal(empty.message, "config file c.json is not valid JSON: the text is empty");
  assert.equal(empty.details.line, null);
  const cut = thrown(() => parseJsonText('{\n  "a": [1,\n', FRAME));
  assert.match(cut.message, /^generate request is not valid JSON at line 2/);
  assert.equal(parseJsonText("[1]", FILE) instanceof Array, true);
});

Deno.test("nothing of zod's own shape reaches the error", () => {
  const S = z.object({ a: z.string(), b: z.array(z.number()) }).strict();
  const r = S.safeParse({ b: ["x"], c: 1 });
  assert.ok(!r.success);
  const e = schemaError(r.error, { b: ["x"], c: 1 }, FILE, { schema: S });
  const json = JSON.stringify(e.toJSON());
  assert.doesNotMatch(
    json,
    /invalid_type|unrecognized_keys|"code":"(?!CONFIG_INVALID)|Expected string|Required/,
  );
  for (const issue of e.details.issues as Record<string, unknown>[]) {
    assert.deepEqual(Object.keys(issue).sort(), ["expected", "message", "path", "received"]);
  }
});
