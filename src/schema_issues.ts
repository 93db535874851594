/**
 * One way to report input that breaks its schema, at every boundary that reads it (the config file, the
 * lockfile, manifests, a bundle's index, daemon and runner frames, request bodies, registry answers): a
 * `ZodError` becomes a list of {@link SchemaIssue}s — where (the field's path and, for a file, its line),
 * what was expected, what was found, one readable sentence — and a {@link LodeError} with the
 * boundary's own code whose message has one line per issue and whose `details` carry `file`, `line`,
 * `field` (the first issue's path) and `issues`. zod's own issue objects never reach a user.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { parseJson } from "./schema_issues.ts";
 * const Settings = z.object({ store: z.string().optional() }).strict();
 * const where = { code: "CONFIG_INVALID", subject: "config file c.json", file: "c.json" } as const;
 * try {
 *   parseJson(Settings, '{\n  "store": 5\n}\n', where);
 * } catch (e) {
 *   console.log((e as Error).message); // config file c.json is invalid at line 2, store: expected a string, found 5
 * }
 * ```
 * @module
 */
import { z } from "zod";
import { type ErrorCode, LodeError } from "./errors.ts";
import { lineOfPath, lineOfSyntaxError } from "./json_locate.ts";

/** One problem of a value that breaks its schema. */
export interface SchemaIssue {
  /** Where: `store`, `models[2].files[0].sha256`, `(root)` for the whole value. */
  path: string;
  /** The 1-based line of the field in the file, when the input is a JSON text. */
  line?: number;
  /** The 1-based column, for a JSON syntax error when the parser tells it. */
  column?: number;
  /** What the schema wants there: `a string`, `one of "user", "assistant"`, `a known field (…)`. */
  expected: string;
  /** What was there: `5`, `"abc"`, `a list of 3 items`, `nothing` (a missing field). */
  received: string;
  /** The problem as one sentence without its place: `expected a string, found 5`. */
  message: string;
}

/** Where input was read and how a failure there is reported. */
export interface SchemaBoundary {
  /** The error code of this boundary (`CONFIG_INVALID`, `LOCKFILE_INVALID`, `BAD_REQUEST`, …). */
  code: ErrorCode;
  /** What was read, as the message names it: `config file /x/config.json`, `generate request`. */
  subject: string;
  /** The file the input came from (`details.file`). */
  file?: string;
  /** A hint more specific than the catalogue's. */
  hint?: string;
  /** More structured fields for `details`. */
  details?: Record<string, unknown>;
}

/** Issues listed in a message (and in `details.issues`); the rest are counted. */
const LISTED = 10;
const MAX_SHOWN = 80;

type Key = string | number;

/**
 * The issues of `error`, found checking `value` (the JSON `text` it was parsed from, when given, adds
 * each issue's line; the `schema`, when given, names the known fields where one is unknown).
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const r = z.object({ n: z.number() }).safeParse({ n: "5" });
 * if (!r.success) schemaIssues(r.error, { n: "5" }); // [{ path: "n", expected: "a number", received: '"5"', … }]
 * ```
 */
export function schemaIssues(
  error: z.ZodError,
  value: unknown,
  options: { text?: string; schema?: z.ZodTypeAny } = {},
): SchemaIssue[] {
  const issues = merged(flatIssues(error.issues, value, options.schema)).map(
    ({ keys, expected, received, message }): SchemaIssue => {
      const line = options.text === undefined ? null : lineOfPath(options.text, keys);
      return { path: formatPath(keys), ...(line === null ? {} : { line }), expected, received, message };
    },
  );
  // In a file, top to bottom (the sort is stable: issues on one line keep the schema's order).
  return issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

/**
 * The typed error for `value` that breaks its schema: `details` `{file, line, field, issues}` (`file` and
 * `line` when there is a file), and a message naming the place of each issue (the line, the path) and
 * the problem — one line for one issue, one line per issue for several.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const r = z.object({ prompt: z.string() }).safeParse({});
 * if (!r.success) throw schemaError(r.error, {}, { code: "BAD_REQUEST", subject: "generate request" });
 * // generate request is invalid at prompt: missing (expected a string)
 * ```
 */
export function schemaError(
  error: z.ZodError,
  value: unknown,
  boundary: SchemaBoundary,
  options: { text?: string; schema?: z.ZodTypeAny } = {},
): LodeError {
  const issues = schemaIssues(error, value, options);
  const where = (i: SchemaIssue) =>
    [i.line === undefined ? null : `line ${i.line}`, namedPath(i.path, value)].filter(Boolean).join(", ");
  const listed = issues.slice(0, LISTED);
  const message = issues.length === 1
    ? `${boundary.subject} is invalid at ${where(issues[0]!)}: ${issues[0]!.message}`
    : [
      `${boundary.subject} is invalid (${issues.length} problems):`,
      ...listed.map((i) => `  ${where(i)}: ${i.message}`),
      ...(issues.length > LISTED ? [`  … and ${issues.length - LISTED} more`] : []),
    ].join("\n");
  return new LodeError(boundary.code, message, {
    details: {
      ...boundary.details,
      ...fileDetails(boundary, options.text === undefined ? undefined : issues[0]?.line ?? null),
      field: issues[0]?.path ?? "(root)",
      issues: listed,
      ...(issues.length > LISTED ? { issue_count: issues.length } : {}),
    },
    ...(boundary.hint ? { hint: boundary.hint } : {}),
  });
}

/**
 * `text` parsed as JSON, or the boundary's error naming the line of the syntax error.
 *
 * @example
 * ```ts
 * parseJsonText('{"a": 1}', { code: "MANIFEST_INVALID", subject: "manifest m.json", file: "m.json" }); // { a: 1 }
 * ```
 */
export function parseJsonText(text: string, boundary: SchemaBoundary): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw jsonSyntaxError(text, (e as Error).message, boundary);
  }
}

function jsonSyntaxError(text: string, parserMessage: string, boundary: SchemaBoundary): LodeError {
  const empty = text.trim() === "";
  // V8 quotes the whole text after the problem (`…, "{ not json" is not valid JSON`): keep the problem.
  const problemText = parserMessage.split("\n")[0]!.replace(/, "[\s\S]*$/, "");
  // V8 says where when it can (`… in JSON at position 2 (line 1 column 3)`): that is the place to name.
  const v8 = /^(.*?) in JSON at position \d+(?: \(line (\d+) column (\d+)\))?$/.exec(problemText);
  const problem = empty ? "the text is empty" : v8?.[1] ?? problemText;
  const line = empty ? null : v8?.[2] ? Number(v8[2]) : lineOfSyntaxError(text);
  const column = v8?.[3] ? Number(v8[3]) : null;
  const issue: SchemaIssue = {
    path: "(root)",
    ...(line === null ? {} : { line }),
    ...(column === null ? {} : { column }),
    expected: "JSON",
    received: empty ? "nothing" : problem,
    message: `not valid JSON (${problem})`,
  };
  return new LodeError(
    boundary.code,
    `${boundary.subject} is not valid JSON${line === null ? "" : ` at line ${line}`}${
      column === null ? "" : `, column ${column}`
    }: ${problem}`,
    {
      details: { ...boundary.details, ...fileDetails(boundary, line), field: "(root)", issues: [issue] },
      ...(boundary.hint ? { hint: boundary.hint } : {}),
    },
  );
}

/**
 * `value` checked against `schema`, or the boundary's {@link schemaError} (with lines when `text`, the
 * JSON `value` was parsed from, is given).
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * checkSchema(z.number(), 5, { code: "BAD_REQUEST", subject: "request" }); // 5
 * ```
 */
export function checkSchema<T extends z.ZodTypeAny>(
  schema: T,
  value: unknown,
  boundary: SchemaBoundary,
  text?: string,
): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw schemaError(parsed.error, value, boundary, { text, schema });
}

/**
 * JSON `text` parsed and checked against `schema`: {@link parseJsonText}, then {@link checkSchema}.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * parseJson(z.object({ n: z.number() }), '{"n": 1}', { code: "MANIFEST_INVALID", subject: "m.json" }); // { n: 1 }
 * ```
 */
export function parseJson<T extends z.ZodTypeAny>(
  schema: T,
  text: string,
  boundary: SchemaBoundary,
): z.infer<T> {
  return checkSchema(schema, parseJsonText(text, boundary), boundary, text);
}

/**
 * A path as messages write it: `models[2].files[0].sha256`; a key that is not a plain name is quoted
 * (`headers["content-type"]`); `(root)` for the whole value.
 *
 * @example
 * ```ts
 * formatPath(["models", 2, "sha256"]); // "models[2].sha256"
 * ```
 */
export function formatPath(keys: readonly Key[]): string {
  let out = "";
  for (const key of keys) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out || "(root)";
}

function fileDetails(boundary: SchemaBoundary, line: number | null | undefined): Record<string, unknown> {
  if (boundary.file === undefined) return line === undefined ? {} : { line };
  return { file: boundary.file, line: line ?? null };
}

/** `path` for a message: an item of a list that has a `name` is named (`models[0] ("a").files[0].sha256`). */
function namedPath(path: string, value: unknown): string {
  if (path === "(root)") return path;
  let node = value;
  return path.replace(/(\[(\d+)\]|\["(?:[^"\\]|\\.)*"\]|\.?[A-Za-z_$][\w$]*)/g, (part, _all, index) => {
    const key = index !== undefined
      ? Number(index)
      : part.startsWith("[")
      ? JSON.parse(part.slice(1, -1)) as string
      : part.replace(/^\./, "");
    node = isObject(node) ? (node as Record<Key, unknown>)[key] : undefined;
    const name = index !== undefined && isObject(node) ? (node as Record<string, unknown>).name : undefined;
    return typeof name === "string" ? `${part} (${JSON.stringify(name)})` : part;
  });
}

interface FlatIssue {
  keys: Key[];
  expected: string;
  received: string;
  message: string;
}

/** zod's issues as flat ones: unknown keys one issue each, a union's failure by its closest branch. */
function flatIssues(
  issues: readonly z.ZodIssue[],
  value: unknown,
  schema: z.ZodTypeAny | undefined,
): FlatIssue[] {
  const out: FlatIssue[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const known = schema ? knownKeys(schema, issue.path, value) : null;
      for (const key of issue.keys) {
        const keys = [...issue.path, key];
        const near = known ? nearest(key, known) : null;
        const expected = known ? `a known field (${known.join(", ")})` : "no such field";
        out.push({
          keys,
          expected,
          received: describe(at(value, keys)),
          message: `unknown field${near ? `; did you mean "${near}"?` : ""}${
            known ? ` (known: ${known.join(", ")})` : ""
          }`,
        });
      }
    } else if (issue.code === "invalid_union" && !authored(issue)) {
      out.push(...unionIssues(issue, value, schema));
    } else {
      const found = at(value, issue.path);
      const expected = expectation(issue);
      const received = describe(found);
      out.push({ keys: issue.path, expected, received, message: sentence(issue, expected, found, received) });
    }
  }
  return out;
}

/** Issues at the same place as one (`expected a whole number and a number of at least 0, found -1.5`). */
function merged(issues: FlatIssue[]): FlatIssue[] {
  const byPlace = new Map<string, FlatIssue>();
  for (const issue of issues) {
    const place = JSON.stringify(issue.keys);
    const first = byPlace.get(place);
    if (first === undefined) byPlace.set(place, { ...issue });
    else if (first.expected !== issue.expected) {
      const generic = (i: FlatIssue) => i.message.startsWith("expected ");
      const both = generic(first) && generic(issue);
      first.expected = `${first.expected} and ${issue.expected}`;
      first.message = both
        ? `expected ${first.expected}, found ${first.received}`
        : `${first.message}; ${issue.message}`;
    }
  }
  return [...byPlace.values()];
}

/**
 * A union none of whose branches fit: the branch that got furthest speaks for it (a list of stop strings
 * with one empty string is reported at that string); when all fail at the union itself, each branch's
 * expectation is listed (`a string or a list`).
 */
function unionIssues(
  issue: z.ZodInvalidUnionIssue & { message: string },
  value: unknown,
  schema: z.ZodTypeAny | undefined,
): FlatIssue[] {
  const depth = (e: z.ZodError) => Math.max(...e.issues.map((i) => i.path.length));
  const branches = issue.unionErrors.filter((e) => e.issues.length > 0);
  const best = branches.reduce<z.ZodError | null>(
    (a, b) => (a === null || depth(b) > depth(a) ? b : a),
    null,
  );
  if (best !== null && depth(best) > issue.path.length) return flatIssues(best.issues, value, schema);
  const found = at(value, issue.path);
  const expectations = [
    ...new Set(
      branches.flatMap((e) => e.issues.filter((i) => i.path.length === issue.path.length).map(expectation)),
    ),
  ];
  const expected = expectations.length > 0 ? expectations.join(" or ") : "another value";
  const received = describe(found);
  return [{ keys: issue.path, expected, received, message: sentence(issue, expected, found, received) }];
}

function sentence(issue: z.ZodIssue, expected: string, found: unknown, received: string): string {
  // A union's own message describes what it takes (`a string or a list of text parts`).
  if (authored(issue) && issue.code !== "invalid_union") {
    if (/^must /.test(issue.message)) return `${issue.message}, found ${received}`;
    return issue.code === "custom" ? issue.message : `${issue.message} (found ${received})`;
  }
  if (found === undefined) return `missing (expected ${expected})`;
  return `expected ${expected}, found ${received}`;
}

/** True when the schema's author wrote the issue's message (`.min(1, "a model has at least one file")`). */
function authored(issue: z.ZodIssue): boolean {
  return issue.message !== z.defaultErrorMap(issue, { defaultError: "", data: undefined }).message;
}

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  integer: "a whole number",
  boolean: "true or false",
  array: "a list",
  object: "an object",
  null: "null",
  undefined: "nothing",
};

/** What an issue's schema wanted, in words. */
function expectation(issue: z.ZodIssue): string {
  if (
    authored(issue) &&
    (/^must be /.test(issue.message) || issue.code === "custom" || issue.code === "invalid_union")
  ) {
    return issue.message.replace(/^must be /, "");
  }
  switch (issue.code) {
    case "invalid_type":
      return TYPE_NAMES[issue.expected] ?? `a ${issue.expected}`;
    case "invalid_literal":
      return JSON.stringify(issue.expected) ?? String(issue.expected);
    case "invalid_enum_value":
    case "invalid_union_discriminator":
      return `one of ${issue.options.map((o) => JSON.stringify(o)).join(", ")}`;
    case "too_small":
      return bound(issue.type, Number(issue.minimum), issue.inclusive, issue.exact, "small");
    case "too_big":
      return bound(issue.type, Number(issue.maximum), issue.inclusive, issue.exact, "big");
    case "not_multiple_of":
      return `a multiple of ${issue.multipleOf}`;
    case "not_finite":
      return "a finite number";
    case "invalid_date":
      return "a valid date";
    case "invalid_string":
      return typeof issue.validation === "string"
        ? `a valid ${issue.validation}`
        : "startsWith" in issue.validation
        ? `a string starting with ${JSON.stringify(issue.validation.startsWith)}`
        : "endsWith" in issue.validation
        ? `a string ending with ${JSON.stringify(issue.validation.endsWith)}`
        : `a string containing ${JSON.stringify(issue.validation.includes)}`;
    default:
      return issue.message;
  }
}

function bound(
  type: string,
  n: number,
  inclusive: boolean,
  exact: boolean | undefined,
  side: "small" | "big",
): string {
  const unit = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;
  const limit = exact ? "exactly" : side === "small" ? "at least" : "at most";
  if (type === "string") {
    if (side === "small" && n === 1 && !exact) return "a non-empty string";
    return `a string of ${limit} ${unit(n, "character", "characters")}`;
  }
  if (type === "array" || type === "set") {
    if (side === "small" && n === 1 && !exact) return "a non-empty list";
    return `a list of ${limit} ${unit(n, "item", "items")}`;
  }
  if (exact) return `exactly ${n}`;
  if (side === "small") return inclusive ? `a number of at least ${n}` : `a number greater than ${n}`;
  return inclusive ? `a number of at most ${n}` : `a number less than ${n}`;
}

/** A value as a message shows it: `5`, `"abc"` (long strings cut), `a list of 3 items`, `nothing`. */
function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "string") {
    return JSON.stringify(value.length > MAX_SHOWN ? value.slice(0, MAX_SHOWN) + "…" : value);
  }
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return String(value);
  }
  if (Array.isArray(value)) {
    return value.length === 0
      ? "an empty list"
      : `a list of ${value.length} item${value.length === 1 ? "" : "s"}`;
  }
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function isObject(value: unknown): boolean {
  return typeof value === "object" && value !== null;
}

function at(value: unknown, keys: readonly Key[]): unknown {
  let node = value;
  for (const key of keys) {
    if (!isObject(node) || !Object.hasOwn(node as object, key)) return undefined;
    node = (node as Record<Key, unknown>)[key];
  }
  return node;
}

/** The schema under wrappers (optional, nullable, default, refinements, lazy). */
function unwrap(schema: z.ZodTypeAny): z.ZodTypeAny {
  for (let s = schema;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
    else if (s instanceof z.ZodEffects) s = s.innerType();
    else if (s instanceof z.ZodDefault || s instanceof z.ZodCatch) s = s._def.innerType;
    else if (s instanceof z.ZodLazy) s = s.schema;
    else return s;
  }
}

/** The schema of the value at `key` of a value of `schema` (null when it cannot be told). */
function child(schema: z.ZodTypeAny, key: Key, value: unknown): z.ZodTypeAny | null {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject) return typeof key === "string" ? s.shape[key] ?? null : null;
  if (s instanceof z.ZodArray) return s.element;
  if (s instanceof z.ZodRecord) return s.valueSchema;
  if (s instanceof z.ZodIntersection) {
    return child(s._def.left, key, value) ?? child(s._def.right, key, value);
  }
  if (s instanceof z.ZodDiscriminatedUnion) {
    const option = isObject(value)
      ? s.optionsMap.get((value as Record<string, never>)[s.discriminator])
      : undefined;
    return option ? child(option, key, value) : null;
  }
  return null;
}

/** The field names the object at `keys` may have, or null when the schema does not say. */
function knownKeys(schema: z.ZodTypeAny, keys: readonly Key[], value: unknown): string[] | null {
  let s: z.ZodTypeAny | null = schema;
  let node = value;
  for (const key of keys) {
    s = s && child(s, key, node);
    node = isObject(node) ? (node as Record<Key, unknown>)[key] : undefined;
  }
  return s ? fieldsOf(s, node) : null;
}

function fieldsOf(schema: z.ZodTypeAny, value: unknown): string[] | null {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject) return Object.keys(s.shape);
  if (s instanceof z.ZodIntersection) {
    const both = [fieldsOf(s._def.left, value), fieldsOf(s._def.right, value)];
    return both.every((k) => k === null) ? null : [...new Set(both.flatMap((k) => k ?? []))];
  }
  if (s instanceof z.ZodDiscriminatedUnion) {
    const option = isObject(value)
      ? s.optionsMap.get((value as Record<string, never>)[s.discriminator])
      : undefined;
    return option ? fieldsOf(option, value) : null;
  }
  return null;
}

/** The known name closest to `key` when it is a likely misspelling (1 edit, 2 for names of 6 or more), else null. */
function nearest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.min(2, Math.max(1, Math.floor(key.length / 3))) + 1;
  for (const name of known) {
    const d = editDistance(key.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
