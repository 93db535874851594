import assert from "node:assert/strict";
import { z } from "zod";
import { isLodeError, LodeError } from "./errors.ts";
import {
  checkSchema,
  formatPath,
  parseJson,
  parseJsonText,
  type SchemaBoundary,
  schemaError,
  schemaIssues,
} from "./schema_issues.ts";

const FILE: SchemaBoundary = { code: "CONFIG_INVALID", subject: "config file c.json", file: "c.json" };
const FRAME: SchemaBoundary = { code: "BAD_REQUEST", subject: "generate request" };

function issuesOf<T extends z.ZodTypeAny>(schema: T, value: unknown) {
  const r = schema.safeParse(value);
  assert.ok(!r.success, JSON.stringify(value));
  return schemaIssues(r.error, value, { schema });
}

function one<T extends z.ZodTypeAny>(schema: T, value: unknown) {
  const issues = issuesOf(schema, value);
  assert.equal(issues.length, 1, JSON.stringify(issues));
  const { path, expected, received, message } = issues[0]!;
  return { path, expected, received, message };
}

function thrown(f: () => unknown): LodeError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof LodeError, String(e));
    return e;
  }
  assert.fail("no error");
}

Deno.test("formatPath: names with dots, indices in brackets, odd keys quoted, (root) for the whole", () => {
  assert.equal(formatPath(["models", 2, "files", 0, "sha256"]), "models[2].files[0].sha256");
  assert.equal(formatPath(["headers", "content-type"]), 'headers["content-type"]');
  assert.equal(formatPath([0]), "[0]");
  assert.equal(formatPath([]), "(root)");
});

Deno.test("types: expected in words, found as the value itself", () => {
  const S = z.object({
    s: z.string(),
    n: z.number(),
    i: z.number().int(),
    b: z.boolean(),
    l: z.array(z.string()),
    o: z.object({}),
  });
  const ok = { s: "", n: 0, i: 0, b: true, l: [], o: {} };
  assert.deepEqual(one(S, { ...ok, s: 5 }), {
    path: "s",
    expected: "a string",
    received: "5",
    message: "expected a string, found 5",
  });
  assert.equal(one(S, { ...ok, n: "5" }).message, 'expected a number, found "5"');
  assert.equal(one(S, { ...ok, i: 1.5 }).message, "expected a whole number, found 1.5");
  assert.equal(one(S, { ...ok, b: null }).message, "expected true or false, found null");
  assert.equal(one(S, { ...ok, l: {} }).message, "expected a list, found an object");
  assert.equal(one(S, { ...ok, o: [1, 2] }).message, "expected an object, found a list of 2 items");
  assert.deepEqual(one(S, { ...ok, s: undefined }), {
    path: "s",
    expected: "a string",
    received: "nothing",
    message: "missing (expected a string)",
  });
  const long = "x".repeat(200);
  assert.equal(one(S, { ...ok, n: long }).received, JSON.stringify("x".repeat(80) + "…"));
});

Deno.test("literals, enums, bounds, multiples and string formats", () => {
  assert.equal(one(z.object({ v: z.literal(1) }), { v: 2 }).message, "expected 1, found 2");
  assert.equal(
    one(z.object({ role: z.enum(["user", "assistant"]) }), { role: "robot" }).message,
    'expected one of "user", "assistant", found "robot"',
  );
  const B = z.object({
    name: z.string().min(1).max(3).optional(),
    code: z.string().length(2).optional(),
    items: z.array(z.number()).min(1).max(2).optional(),
    n: z.number().nonnegative().lt(10).optional(),
    p: z.number().positive().optional(),
    m: z.number().multipleOf(5).optional(),
    url: z.string().url().optional(),
    pre: z.string().startsWith("sha256:").optional(),
  });
  const expect = (value: Record<string, unknown>) => one(B, value).expected;
  assert.equal(expect({ name: "" }), "a non-empty string");
  assert.equal(expect({ name: "abcd" }), "a string of at most 3 characters");
  assert.equal(expect({ code: "a" }), "a string of exactly 2 characters");
  assert.equal(expect({ items: [] }), "a non-empty list");
  assert.equal(expect({ items: [1, 2, 3] }), "a list of at most 2 items");
  assert.equal(expect({ n: -1 }), "a number of at least 0");
  assert.equal(expect({ n: 10 }), "a number less than 10");
  assert.equal(expect({ p: 0 }), "a number greater than 0");
  assert.equal(expect({ m: 7 }), "a multiple of 5");
  assert.equal(expect({ url: "nope" }), "a valid url");
  assert.equal(expect({ pre: "md5:x" }), 'a string starting with "sha256:"');
});

Deno.test("the schema author's words are kept: `must be …` gets what was found, a refinement speaks alone", () => {
  const S = z.object({
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits").optional(),
    files: z.array(z.string()).min(1, "a model has at least one file").optional(),
    n: z.literal(1, { errorMap: () => ({ message: "only n = 1 is supported" }) }).optional(),
  }).superRefine((v, ctx) => {
    if (v.files?.includes("dup")) {
      ctx.addIssue({ code: "custom", path: ["files"], message: '"dup" is listed twice' });
    }
  });
  assert.deepEqual(one(S, { sha256: "abc" }), {
    path: "sha256",
    expected: "64 lowercase hex digits",
    received: '"abc"',
    message: 'must be 64 lowercase hex digits, found "abc"',
  });
  assert.deepEqual(one(S, { files: [] }), {
    path: "files",
    expected: "a non-empty list",
    received: "an empty list",
    message: "a model has at least one file (found an empty list)",
  });
  assert.equal(one(S, { n: 3 }).message, "only n = 1 is supported (found 3)");
  assert.deepEqual(one(S, { files: ["dup"] }), {
    path: "files",
    expected: '"dup" is listed twice',
    received: "a list of 1 item",
    message: '"dup" is listed twice',
  });
});

Deno.test("unknown fields: one issue each, the known fields listed, a near miss suggested", () => {
  const S = z.object({
    store: z.string().optional(),
    models: z.array(z.object({ sha256: z.string().optional(), size: z.number().optional() }).strict())
      .optional(),
  }).strict();
  const issues = issuesOf(S, { stor: 1, colour: "red", models: [{ sha265: "x" }] });
  assert.deepEqual(issues.map((i) => [i.path, i.message]), [
    ["models[0].sha265", 'unknown field; did you mean "sha256"? (known: sha256, size)'],
    ["stor", 'unknown field; did you mean "store"? (known: store, models)'],
    ["colour", "unknown field (known: store, models)"],
  ]);
  assert.equal(issues[1]!.expected, "a known field (store, models)");
  assert.equal(issues[1]!.received, "1");
  // Without the schema the field is still named.
  const r = S.safeParse({ stor: 1 });
  assert.ok(!r.success);
  assert.deepEqual(schemaIssues(r.error, { stor: 1 }).map((i) => [i.path, i.message]), [[
    "stor",
    "unknown field",
  ]]);
});

Deno.test("unions: the branch that got furthest speaks; else each branch's expectation", () => {
  const S = z.object({
    stop: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
    content: z.union([z.string(), z.array(z.object({ text: z.string() }))], {
      errorMap: (issue, ctx) => ({
        message: issue.code === "invalid_union" ? "a string or a list of text parts" : ctx.defaultError,
      }),
    }).optional(),
  });
  assert.deepEqual(one(S, { stop: ["a", ""] }), {
    path: "stop[1]",
    expected: "a non-empty string",
    received: '""',
    message: 'expected a non-empty string, found ""',
  });
  assert.equal(one(S, { stop: 5 }).message, "expected a string or a list, found 5");
  // A union with its own message is described by it.
  assert.deepEqual(one(S, { content: [{ image: 1 }] }), {
    path: "content",
    expected: "a string or a list of text parts",
    received: "a list of 1 item",
    message: "expected a string or a list of text parts, found a list of 1 item",
  });
  const Op = z.discriminatedUnion("op", [
    z.object({ op: z.literal("a"), x: z.string() }),
    z.object({ op: z.literal("b") }).strict(),
  ]);
  assert.equal(one(Op, { op: "c" }).message, 'expected one of "a", "b", found "c"');
  assert.equal(one(Op, { op: "b", y: 1 }).message, "unknown field (known: op)");
});

Deno.test("two issues at one place are one (a whole number and at least 0)", () => {
  assert.deepEqual(one(z.object({ n: z.number().int().nonnegative() }), { n: -1.5 }), {
    path: "n",
    expected: "a whole number and a number of at least 0",
    received: "-1.5",
    message: "expected a whole number and a number of at least 0, found -1.5",
  });
});

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
