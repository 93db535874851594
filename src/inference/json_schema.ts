/**
 * JSON Schemas for constrained output (`--json-schema`, the wire's
 * `json_schema`, OpenAI's `response_format`): a schema is read
 * (json_schema_normalise.ts), turned into a grammar that forces its shape
 * (json_schema_grammar.ts), and the finished output is checked against it
 * (json_schema_validate.ts) for what a grammar cannot force.
 *
 * Forced by the grammar: `type`, `enum`, `const`, `anyOf`/`oneOf` options,
 * `properties` (every listed property is written, so `required` always
 * holds), `additionalProperties`, `minProperties`/`maxProperties` of open
 * objects, `items`/`prefixItems`, `minItems`/`maxItems`, `minLength`/
 * `maxLength`, integer `minimum`/`maximum`/`exclusiveMinimum`/
 * `exclusiveMaximum`, non-negative numbers, `format` `date-time`, `date`,
 * `time` and `uuid`. Checked only after generation
 * ({@link CHECKED_AFTER}): `pattern`, other `format`s, bounds of non-integer
 * numbers, `multipleOf`, `uniqueItems`, `propertyNames`, `oneOf` exclusivity.
 * A failed check is `LodeError("SCHEMA_MISMATCH")`.
 *
 * @example
 * ```ts
 * import { checkGenerated, checkJsonSchema } from "./json_schema.ts";
 * const prepared = checkJsonSchema({ type: "object", properties: { age: { type: "integer", minimum: 0 } } });
 * checkGenerated(prepared, '{"age": 3}'); // ok
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { grammarFor, type GrammarSchema } from "./json_schema_grammar.ts";
import type { SchemaNode } from "./json_schema_node.ts";
import { normaliseSchema } from "./json_schema_normalise.ts";
import { findMismatch } from "./json_schema_validate.ts";

/**
 * The keywords whose constraint is checked only after generation.
 *
 * @example
 * ```ts
 * import { CHECKED_AFTER } from "./json_schema.ts";
 * CHECKED_AFTER.includes("pattern"); // true
 * ```
 */
export const CHECKED_AFTER: readonly string[] = [
  "pattern",
  "format (other than date-time, date, time, uuid)",
  "minimum/maximum/exclusiveMinimum/exclusiveMaximum of non-integer numbers",
  "multipleOf",
  "uniqueItems",
  "propertyNames",
  "oneOf (exactly one option)",
];

/** A schema ready for a generation: its normal form and its grammar. */
export interface PreparedSchema {
  node: SchemaNode;
  grammar: GrammarSchema;
}

/**
 * Reads `schema` for a constrained generation, or throws
 * `LodeError("SCHEMA_INVALID")` with `details.path` (a JSON pointer into the
 * schema) naming what cannot be used: an unknown keyword (`not`, `if`,
 * `patternProperties`, a multi-schema `allOf` …), a remote or recursive
 * `$ref`, a non-literal `enum`, or a schema nothing satisfies.
 *
 * @example
 * ```ts
 * import { checkJsonSchema } from "./json_schema.ts";
 * checkJsonSchema({ type: "array", items: { type: "string", enum: ["red", "green"] }, maxItems: 3 }); // ok
 * try {
 *   checkJsonSchema({ not: { type: "string" } });
 * } catch (e) {
 *   console.log((e as Error).message); // … at /: "not" is not supported
 * }
 * ```
 */
export function checkJsonSchema(schema: unknown): PreparedSchema {
  const node = normaliseSchema(schema);
  return { node, grammar: grammarFor(node) };
}

/**
 * Checks finished output `text` against the schema; throws
 * `LodeError("SCHEMA_MISMATCH")` with `details.path` (a JSON pointer into
 * the output), `details.keyword` and `details.reason` when it does not match.
 *
 * @example
 * ```ts
 * import { checkGenerated, checkJsonSchema } from "./json_schema.ts";
 * const prepared = checkJsonSchema({ type: "string", pattern: "^[a-z]+$" });
 * try {
 *   checkGenerated(prepared, '"ABC"');
 * } catch (e) {
 *   console.log((e as Error).message); // the output does not match the JSON schema at /: …
 * }
 * ```
 */
export function checkGenerated(prepared: PreparedSchema, text: string): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw mismatch({
      path: "/",
      keyword: "type",
      reason: `the output is not JSON (${(e as Error).message})`,
    });
  }
  const miss = findMismatch(prepared.node, value);
  if (miss !== undefined) throw mismatch(miss);
}

/** Keywords (of a {@link Mismatch}) that only the check after generation enforces. */
const AFTER_ONLY = new Set([
  "pattern",
  "format",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "uniqueItems",
  "oneOf",
]);

function mismatch(miss: { path: string; keyword: string; reason: string }): LodeError {
  const why = AFTER_ONLY.has(miss.keyword) || miss.keyword.startsWith("propertyNames/")
    ? `${miss.keyword} is checked after generation; the grammar cannot force it`
    : miss.reason.includes("\uFFFD")
    ? "the model wrote bytes that are not UTF-8, which the grammar counts differently"
    : "the grammar should have prevented this";
  return new LodeError(
    "SCHEMA_MISMATCH",
    `the output does not match the JSON schema at ${miss.path}: ${miss.reason} (${why})`,
    { details: { ...miss } },
  );
}

/**
 * `schema` checked as {@link checkJsonSchema} checks it, in the plain form node-llama-cpp takes for a
 * function's parameters (no rules of lode's own: integer bounds, UUIDs and number signs are left to the
 * check after generation).
 *
 * @example
 * ```ts
 * import { plainJsonSchema } from "./json_schema.ts";
 * plainJsonSchema({ type: "object", properties: { n: { type: "integer", minimum: 1 } } });
 * ```
 */
export function plainJsonSchema(schema: unknown): Record<string, unknown> {
  return grammarFor(checkJsonSchema(schema).node, { plain: true }).schema;
}
