/**
 * Checks a JSON Schema against the subset that llama.cpp grammars (through
 * node-llama-cpp) can enforce, so `--json-schema` either constrains the
 * output for real or fails before anything is generated. node-llama-cpp
 * itself silently ignores what it does not support (a `minimum`, a `pattern`,
 * an unknown `$ref`) or turns it into "any JSON" or `null`; here such a
 * schema is a `LodeError("SCHEMA_INVALID")` naming the offending place.
 *
 * Supported: `type` (`object`, `array`, `string`, `number`, `integer`,
 * `boolean`, `null`, or a list of the last five), `enum`, `const`, `oneOf` /
 * `anyOf`, `properties`, `required` (a subset of `properties`),
 * `additionalProperties`, `minProperties`/`maxProperties`, `items`,
 * `prefixItems`, `minItems`/`maxItems`, string `minLength`/`maxLength`/
 * `format` (`date-time`, `date`, `time`), `$defs` with `$ref: "#/$defs/NAME"`,
 * and annotations (`title`, `description`, `default`, `examples`, …).
 *
 * The grammar makes every listed property present and allows no other keys
 * unless `additionalProperties` says so: output that always satisfies the
 * schema as written.
 *
 * @example
 * ```ts
 * import { checkJsonSchema } from "./json_schema.ts";
 * const schema = checkJsonSchema({ type: "object", properties: { name: { type: "string" } }, required: ["name"] });
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";

/** Keywords that only describe a schema and never constrain it: accepted everywhere, ignored. */
const ANNOTATIONS = new Set([
  "title",
  "description",
  "$schema",
  "$id",
  "$comment",
  "default",
  "examples",
  "deprecated",
  "readOnly",
  "writeOnly",
]);

const SCALAR_TYPES = new Set(["string", "number", "integer", "boolean", "null"]);
const STRING_FORMATS = new Set(["date-time", "date", "time"]);
/** Keywords allowed beside each kind of schema (annotations aside). */
const ALLOWED: Record<string, Set<string>> = {
  const: new Set(["const"]),
  enum: new Set(["enum"]),
  oneOf: new Set(["oneOf", "$defs"]),
  anyOf: new Set(["anyOf", "$defs"]),
  $ref: new Set(["$ref", "$defs"]),
  object: new Set([
    "type",
    "properties",
    "required",
    "additionalProperties",
    "minProperties",
    "maxProperties",
    "$defs",
  ]),
  array: new Set(["type", "items", "prefixItems", "minItems", "maxItems", "$defs"]),
  string: new Set(["type", "minLength", "maxLength", "format"]),
  scalar: new Set(["type"]),
};
/** Deeper schemas are refused (a hostile or runaway schema must not exhaust the stack). */
const MAX_DEPTH = 64;

/**
 * Returns `schema` in the form node-llama-cpp's `createGrammarForJsonSchema`
 * reads (`anyOf` becomes `oneOf`; nothing else changes), or throws
 * `LodeError("SCHEMA_INVALID")` with `details.path` (a JSON pointer) when
 * the schema uses something a grammar cannot enforce or cannot be satisfied.
 *
 * @example
 * ```ts
 * import { checkJsonSchema } from "./json_schema.ts";
 * checkJsonSchema({ type: "array", items: { enum: ["red", "green"] }, maxItems: 3 }); // ok
 * try {
 *   checkJsonSchema({ type: "integer", minimum: 0 });
 * } catch (e) {
 *   console.log((e as Error).message); // … at /: "minimum" is not supported …
 * }
 * ```
 */
export function checkJsonSchema(schema: unknown): Record<string, unknown> {
  return walk(schema, "", [], 0);
}

function walk(
  schema: unknown,
  path: string,
  defs: Record<string, unknown>[],
  depth: number,
): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw invalid(path, `the schema is nested more than ${MAX_DEPTH} levels deep`);
  if (!isPlainObject(schema)) throw invalid(path, "a schema must be a JSON object");
  const scope = isPlainObject(schema.$defs) ? [...defs, schema.$defs] : defs;
  const out: Record<string, unknown> = { ...schema };
  if (schema.$defs !== undefined) {
    if (!isPlainObject(schema.$defs)) throw invalid(`${path}/$defs`, "$defs must be an object of schemas");
    out.$defs = Object.fromEntries(
      Object.entries(schema.$defs).map(([name, def]) => [
        name,
        walk(def, `${path}/$defs/${escape(name)}`, scope, depth + 1),
      ]),
    );
  }
  const kind = kindOf(schema, path);
  const allowed = ALLOWED[kind]!;
  for (const key of Object.keys(schema)) {
    if (!allowed.has(key) && !ANNOTATIONS.has(key)) {
      throw invalid(path, `"${key}" is not supported${kind === "scalar" ? "" : ` in a ${kind} schema`}`);
    }
  }
  const child = (value: unknown, at: string) => walk(value, at, scope, depth + 1);
  switch (kind) {
    case "const":
      if (!isLiteral(schema.const)) throw invalid(path, "const must be a string, number, boolean or null");
      break;
    case "enum":
      if (!Array.isArray(schema.enum) || schema.enum.length === 0 || !schema.enum.every(isLiteral)) {
        throw invalid(path, "enum must be a non-empty list of strings, numbers, booleans or nulls");
      }
      break;
    case "oneOf":
    case "anyOf": {
      const options = schema[kind];
      if (!Array.isArray(options) || options.length === 0) {
        throw invalid(path, `${kind} must be a non-empty list of schemas`);
      }
      delete out.anyOf;
      out.oneOf = options.map((s, i) => child(s, `${path}/${kind}/${i}`));
      break;
    }
    case "$ref": {
      const ref = schema.$ref;
      const name = typeof ref === "string" && ref.startsWith("#/$defs/")
        ? ref.slice("#/$defs/".length)
        : undefined;
      if (name === undefined || !scope.some((d) => Object.hasOwn(d, name))) {
        throw invalid(
          path,
          `$ref must be "#/$defs/NAME" naming a schema in $defs, got ${JSON.stringify(ref)}`,
        );
      }
      break;
    }
    case "object":
      checkObject(schema, path, child, out);
      break;
    case "array":
      if (schema.items !== undefined) out.items = child(schema.items, `${path}/items`);
      if (schema.prefixItems !== undefined) {
        if (!Array.isArray(schema.prefixItems)) {
          throw invalid(`${path}/prefixItems`, "must be a list of schemas");
        }
        out.prefixItems = schema.prefixItems.map((s, i) => child(s, `${path}/prefixItems/${i}`));
      }
      checkRange(schema, path, "minItems", "maxItems");
      if (
        Array.isArray(schema.prefixItems) && typeof schema.maxItems === "number" &&
        schema.maxItems < schema.prefixItems.length
      ) {
        throw invalid(path, "maxItems is smaller than the number of prefixItems");
      }
      break;
    case "string":
      checkRange(schema, path, "minLength", "maxLength");
      if (schema.format !== undefined) {
        if (typeof schema.format !== "string" || !STRING_FORMATS.has(schema.format)) {
          throw invalid(
            path,
            `format ${JSON.stringify(schema.format)} is not supported (date-time, date, time)`,
          );
        }
        if (schema.minLength !== undefined || schema.maxLength !== undefined) {
          throw invalid(path, "format cannot be combined with minLength/maxLength");
        }
      }
      break;
  }
  return out;
}

function checkObject(
  schema: Record<string, unknown>,
  path: string,
  child: (value: unknown, at: string) => Record<string, unknown>,
  out: Record<string, unknown>,
): void {
  const properties = schema.properties ?? {};
  if (!isPlainObject(properties)) throw invalid(`${path}/properties`, "must be an object of schemas");
  if (schema.properties !== undefined) {
    out.properties = Object.fromEntries(
      Object.entries(properties).map(([k, v]) => [k, child(v, `${path}/properties/${escape(k)}`)]),
    );
  }
  const extra = schema.additionalProperties;
  if (extra !== undefined && typeof extra !== "boolean") {
    out.additionalProperties = child(extra, `${path}/additionalProperties`);
  }
  if (schema.required !== undefined) {
    const required = schema.required;
    if (!Array.isArray(required) || !required.every((k) => typeof k === "string")) {
      throw invalid(`${path}/required`, "must be a list of property names");
    }
    const missing = required.find((k) => !Object.hasOwn(properties, k));
    if (missing !== undefined) {
      throw invalid(`${path}/required`, `"${missing}" is required but not listed in properties`);
    }
  }
  checkRange(schema, path, "minProperties", "maxProperties");
  const count = Object.keys(properties).length;
  const closed = extra === undefined || extra === false;
  const { minProperties: lo, maxProperties: hi } = schema;
  if ((typeof hi === "number" && hi < count) || (closed && typeof lo === "number" && lo > count)) {
    throw invalid(
      path,
      `every one of the ${count} listed properties is always present, so min/maxProperties cannot hold`,
    );
  }
}

/** The kind of schema, from the keyword that decides it. */
function kindOf(schema: Record<string, unknown>, path: string): string {
  const deciders = ["const", "enum", "oneOf", "anyOf", "$ref"].filter((k) => schema[k] !== undefined);
  if (deciders.length > 1) throw invalid(path, `${deciders.join(" and ")} cannot be combined`);
  if (deciders.length === 1) {
    if (schema.type !== undefined) throw invalid(path, `type cannot be combined with ${deciders[0]}`);
    return deciders[0]!;
  }
  const type = schema.type;
  if (type === "object" || type === "array" || type === "string") return type;
  if (typeof type === "string" && SCALAR_TYPES.has(type)) return "scalar";
  if (
    Array.isArray(type) && type.length > 0 && type.every((t) => typeof t === "string" && SCALAR_TYPES.has(t))
  ) {
    return "scalar";
  }
  if (type === undefined) {
    throw invalid(path, "a schema needs a type, enum, const, oneOf/anyOf or $ref");
  }
  throw invalid(
    path,
    `type ${JSON.stringify(type)} is not supported (object, array, string, number, integer, boolean, null, ` +
      "or a list of the last five)",
  );
}

function checkRange(schema: Record<string, unknown>, path: string, min: string, max: string): void {
  for (const key of [min, max]) {
    const value = schema[key];
    if (value !== undefined && !(typeof value === "number" && Number.isInteger(value) && value >= 0)) {
      throw invalid(path, `${key} must be a non-negative integer`);
    }
  }
  const lo = schema[min];
  const hi = schema[max];
  if (typeof lo === "number" && typeof hi === "number" && lo > hi) {
    throw invalid(path, `${min} (${lo}) is greater than ${max} (${hi})`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isLiteral(value: unknown): boolean {
  return value === null || ["string", "boolean"].includes(typeof value) ||
    (typeof value === "number" && Number.isFinite(value));
}

/** JSON pointer escaping of one path segment. */
function escape(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

function invalid(path: string, reason: string): LodeError {
  const at = path === "" ? "/" : path;
  return new LodeError("SCHEMA_INVALID", `the JSON schema cannot be used at ${at}: ${reason}`, {
    details: { path: at, reason },
  });
}
