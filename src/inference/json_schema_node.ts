/**
 * The normalised form of a JSON Schema ({@link SchemaNode}): local `$ref`s
 * resolved, `type` lists and `nullable` turned into unions, `type` + `enum`
 * or `const` into plain enums and constants, draft-4 exclusive bounds into
 * numbers. The grammar (json_schema_grammar.ts) and the check after
 * generation (json_schema_validate.ts) both read it.
 *
 * @example
 * ```ts
 * import type { SchemaNode } from "./json_schema_node.ts";
 * const flag: SchemaNode = { kind: "boolean" };
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";

/** A JSON literal an `enum` or `const` may hold. */
export type Literal = string | number | boolean | null;

/**
 * One normalised schema. `union` is `anyOf`, or `oneOf` when `exclusive`
 * (exactly one option must match).
 *
 * @example
 * ```ts
 * import type { SchemaNode } from "./json_schema_node.ts";
 * const maybeName: SchemaNode = { kind: "union", exclusive: false, options: [{ kind: "string" }, { kind: "null" }] };
 * ```
 */
export type SchemaNode =
  | { kind: "any" }
  | { kind: "const"; value: Literal }
  | { kind: "enum"; values: Literal[] }
  | { kind: "union"; exclusive: boolean; options: SchemaNode[] }
  | {
    kind: "object";
    properties: [string, SchemaNode][];
    required: string[];
    /** `false` closes the object (also when the schema did not say). */
    additional: boolean | SchemaNode;
    propertyNames?: SchemaNode;
    minProperties?: number;
    maxProperties?: number;
  }
  | {
    kind: "array";
    items?: SchemaNode;
    prefixItems?: SchemaNode[];
    minItems?: number;
    maxItems?: number;
    uniqueItems?: boolean;
  }
  | { kind: "string"; minLength?: number; maxLength?: number; format?: string; pattern?: string }
  | {
    kind: "number";
    integer: boolean;
    minimum?: number;
    maximum?: number;
    exclusiveMinimum?: number;
    exclusiveMaximum?: number;
    multipleOf?: number;
  }
  | { kind: "boolean" }
  | { kind: "null" };

/**
 * `SCHEMA_INVALID` for the schema at `path` (a JSON pointer into the schema).
 *
 * @example
 * ```ts
 * import { invalid } from "./json_schema_node.ts";
 * throw invalid("/properties/age", '"not" is not supported');
 * ```
 */
export function invalid(path: string, reason: string): LodeError {
  const at = path === "" ? "/" : path;
  return new LodeError("SCHEMA_INVALID", `the JSON schema cannot be used at ${at}: ${reason}`, {
    details: { path: at, reason },
  });
}

/**
 * JSON pointer escaping of one path segment.
 *
 * @example
 * ```ts
 * import { escapePointer } from "./json_schema_node.ts";
 * escapePointer("a/b"); // "a~1b"
 * ```
 */
export function escapePointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * Whether `value` is a plain JSON object.
 *
 * @example
 * ```ts
 * import { isPlainObject } from "./json_schema_node.ts";
 * isPlainObject([]); // false
 * ```
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Whether `value` can be an `enum` member or a `const` (grammars enforce literals only).
 *
 * @example
 * ```ts
 * import { isLiteral } from "./json_schema_node.ts";
 * isLiteral({}); // false
 * ```
 */
export function isLiteral(value: unknown): value is Literal {
  return value === null || typeof value === "string" || typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value));
}

/**
 * The JSON Schema type names `value` has (an integral number is both `integer` and `number`).
 *
 * @example
 * ```ts
 * import { jsonTypesOf } from "./json_schema_node.ts";
 * jsonTypesOf(3); // ["integer", "number"]
 * ```
 */
export function jsonTypesOf(value: unknown): string[] {
  if (value === null) return ["null"];
  if (Array.isArray(value)) return ["array"];
  if (typeof value === "number") return Number.isInteger(value) ? ["integer", "number"] : ["number"];
  return [typeof value];
}
