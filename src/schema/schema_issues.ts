/**
 * A zod error in words: each problem of a value that breaks its schema as a {@link SchemaIssue} — the
 * field's path (`models[2].files[0].sha256`) and, for a JSON text, its line; what the schema expected (`a
 * string`, `one of "user", "assistant"`, the author's own words where the schema has them); what was found
 * (`5`, `"abc"`, `a list of 3 items`, `nothing`); and one sentence saying both. Unknown fields are one issue
 * each, naming the known ones; a union none of whose branches fit is told by the branch that got furthest.
 * schema_error.ts turns these into the typed error of a boundary.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { schemaIssues } from "./schema_issues.ts";
 * const r = z.object({ store: z.string() }).safeParse({ store: 5 });
 * if (!r.success) schemaIssues(r.error, { store: 5 }); // [{ path: "store", expected: "a string", received: "5", message: "expected a string, found 5" }]
 * ```
 * @module
 */
import { z } from "zod";
import { lineOfPath } from "./json_locate.ts";
import { knownFields, nearestName } from "./known_fields.ts";

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

/** A key of a path: an object's field or a list's index. */
export type Key = string | number;

/** An issue with the path it is at, as keys. */
export interface PlacedIssue {
  keys: Key[];
  issue: SchemaIssue;
}

/** Longest string shown as found; longer ones are cut. */
const MAX_SHOWN = 80;

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
  return placedIssues(error, value, options).map((p) => p.issue);
}

/** {@link schemaIssues} with each issue's path as keys. */
export function placedIssues(
  error: z.ZodError,
  value: unknown,
  options: { text?: string; schema?: z.ZodTypeAny } = {},
): PlacedIssue[] {
  const placed = merged(flatIssues(error.issues, value, options.schema)).map(
    ({ keys, expected, received, message }): PlacedIssue => {
      const line = options.text === undefined ? null : lineOfPath(options.text, keys);
      const issue = {
        path: formatPath(keys),
        ...(line === null ? {} : { line }),
        expected,
        received,
        message,
      };
      return { keys, issue };
    },
  );
  // In a file, top to bottom (the sort is stable: issues on one line keep the schema's order).
  return placed.sort((a, b) => (a.issue.line ?? 0) - (b.issue.line ?? 0));
}

/**
 * A path as messages write it: `models[2].files[0].sha256`; a key that is not a plain name is quoted
 * (`headers["content-type"]`); `(root)` for the whole value. Given the `value` the path is in, an item of
 * a list that has a `name` is named: `models[0] ("a").files[0].sha256`.
 *
 * @example
 * ```ts
 * formatPath(["models", 2, "sha256"]); // "models[2].sha256"
 * formatPath(["models", 0], { models: [{ name: "a" }] }); // 'models[0] ("a")'
 * ```
 */
export function formatPath(keys: readonly Key[], value?: unknown): string {
  let out = "";
  let node = value;
  for (const key of keys) {
    node = isObject(node) ? (node as Record<Key, unknown>)[key] : undefined;
    if (typeof key === "number") {
      const name = isObject(node) ? (node as Record<string, unknown>).name : undefined;
      out += typeof name === "string" ? `[${key}] (${JSON.stringify(name)})` : `[${key}]`;
    } else if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out || "(root)";
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
      const known = schema ? knownFields(schema, issue.path, value) : null;
      for (const key of issue.keys) {
        const keys = [...issue.path, key];
        const near = known ? nearestName(key, known) : null;
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
