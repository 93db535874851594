import assert from "node:assert/strict";
import { z } from "zod";
import { formatPath, schemaIssues } from "./schema_issues.ts";

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

Deno.test("formatPath: names with dots, indices in brackets, odd keys quoted, (root) for the whole; named items", () => {
  assert.equal(formatPath(["models", 2, "files", 0, "sha256"]), "models[2].files[0].sha256");
  assert.equal(formatPath(["headers", "content-type"]), 'headers["content-type"]');
  assert.equal(formatPath([0]), "[0]");
  assert.equal(formatPath([]), "(root)");
  const value = { models: [{ name: "a", files: [{}] }, { files: [] }] };
  assert.equal(formatPath(["models", 0, "files", 0], value), 'models[0] ("a").files[0]');
  assert.equal(formatPath(["models", 1, "files"], value), "models[1].files");
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
