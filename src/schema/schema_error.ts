/**
 * One way to report input that breaks its schema, at every boundary that reads it (the config file, the
 * lockfile, manifests, a bundle's index, daemon and runner frames, request bodies, registry answers): a
 * {@link LodeError} with the boundary's own code whose message names, one line per problem, where (the
 * line of a file, the field's path), what was expected and what was found (schema_issues.ts), and whose
 * `details` carry `file` and `line` (for a file), `field` (the first problem's path) and `issues`. A text
 * that is not JSON is reported the same way, at the line where it breaks. zod's own issue objects never
 * reach a user.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { parseJson } from "./schema_error.ts";
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
import type { z } from "zod";
import { type ErrorCode, LodeError } from "../errors.ts";
import { lineOfSyntaxError } from "./json_locate.ts";
import { formatPath, type PlacedIssue, placedIssues, type SchemaIssue } from "./schema_issues.ts";

export type { SchemaIssue } from "./schema_issues.ts";

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
  const placed = placedIssues(error, value, options);
  const issues = placed.map((p) => p.issue);
  const where = (p: PlacedIssue) =>
    (p.issue.line === undefined ? "" : `line ${p.issue.line}, `) + formatPath(p.keys, value);
  const listed = issues.slice(0, LISTED);
  const message = placed.length === 1
    ? `${boundary.subject} is invalid at ${where(placed[0]!)}: ${issues[0]!.message}`
    : [
      `${boundary.subject} is invalid (${issues.length} problems):`,
      ...placed.slice(0, LISTED).map((p) => `  ${where(p)}: ${p.issue.message}`),
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

function fileDetails(boundary: SchemaBoundary, line: number | null | undefined): Record<string, unknown> {
  if (boundary.file === undefined) return line === undefined ? {} : { line };
  return { file: boundary.file, line: line ?? null };
}
