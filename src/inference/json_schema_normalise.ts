/**
 * Reads a JSON Schema as the SDKs' generators write it (zod 3 through
 * `zod-to-json-schema` or openai's `zodResponseFormat`, zod 4's
 * `toJSONSchema`, the Vercel AI SDK, Pydantic) into a {@link SchemaNode}:
 * local `$ref`s (`#/$defs/…`, `#/definitions/…`, any local pointer) are
 * inlined, `type` lists and `nullable: true` become unions, `type` + `enum` /
 * `const` become plain enums and constants, a one-schema `allOf` is that
 * schema. A keyword that is neither understood nor an annotation, a recursive
 * `$ref` or a schema nothing can satisfy is `SCHEMA_INVALID` naming the
 * keyword and its path.
 *
 * @example
 * ```ts
 * import { normaliseSchema } from "./json_schema_normalise.ts";
 * normaliseSchema({ type: "string", enum: ["a", "b"] }); // { kind: "enum", values: ["a", "b"] }
 * ```
 * @module
 */
import { invalid, isLiteral, isPlainObject, jsonTypesOf, type SchemaNode } from "./json_schema_node.ts";
import { typedNode } from "./json_schema_typed.ts";

/** Keywords that only describe a schema: accepted everywhere, ignored. */
const ANNOTATIONS = new Set([
  "title",
  "description",
  "$schema",
  "$id",
  "$comment",
  "$anchor",
  "id",
  "default",
  "examples",
  "example",
  "deprecated",
  "readOnly",
  "writeOnly",
  "discriminator",
  "contentEncoding",
  "contentMediaType",
  "$defs",
  "definitions",
]);
const OBJECT_KEYS = [
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "minProperties",
  "maxProperties",
];
const ARRAY_KEYS = ["items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems"];
const STRING_KEYS = ["minLength", "maxLength", "format", "pattern"];
const NUMBER_KEYS = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"];
const UNDERSTOOD = new Set([
  "type",
  "enum",
  "const",
  "anyOf",
  "oneOf",
  "allOf",
  "$ref",
  "nullable",
  ...OBJECT_KEYS,
  ...ARRAY_KEYS,
  ...STRING_KEYS,
  ...NUMBER_KEYS,
]);
const TYPES = new Set(["object", "array", "string", "number", "integer", "boolean", "null"]);
/** Deeper schemas are refused (a hostile or runaway schema must not exhaust the stack). */
const MAX_DEPTH = 64;
/** Larger schemas (counted after `$ref`s are inlined) are refused. */
const MAX_NODES = 10_000;

interface Context {
  root: unknown;
  /** The `$ref`s being inlined, outermost first (a repeat is recursion). */
  resolving: string[];
  nodes: number;
}

/**
 * The normalised form of `schema`, or `LodeError("SCHEMA_INVALID")` with
 * `details.path` (a JSON pointer into the schema) and `details.reason`.
 *
 * @example
 * ```ts
 * import { normaliseSchema } from "./json_schema_normalise.ts";
 * normaliseSchema({ type: ["integer", "null"], minimum: 0 });
 * // { kind: "union", exclusive: false, options: [{ kind: "number", integer: true, minimum: 0 }, { kind: "null" }] }
 * ```
 */
export function normaliseSchema(schema: unknown): SchemaNode {
  return walk(schema, "", { root: schema, resolving: [], nodes: 0 }, 0);
}

function walk(schema: unknown, path: string, ctx: Context, depth: number): SchemaNode {
  if (depth > MAX_DEPTH) throw invalid(path, `the schema is nested more than ${MAX_DEPTH} levels deep`);
  if (++ctx.nodes > MAX_NODES) {
    throw invalid(path, `the schema has more than ${MAX_NODES} parts once its $refs are inlined`);
  }
  if (schema === true) return { kind: "any" };
  if (!isPlainObject(schema)) throw invalid(path, "a schema must be a JSON object (or true)");
  for (const key of Object.keys(schema)) {
    if (!UNDERSTOOD.has(key) && !ANNOTATIONS.has(key) && !key.startsWith("x-")) {
      throw invalid(path, `"${key}" is not supported`);
    }
  }
  const next = (value: unknown, at: string) => walk(value, at, ctx, depth + 1);
  const only = (keyword: string, allowed: string[] = []) => {
    const other = Object.keys(schema).find((k) =>
      k !== keyword && !allowed.includes(k) && !ANNOTATIONS.has(k) && !k.startsWith("x-")
    );
    if (other !== undefined) throw invalid(path, `"${keyword}" cannot be combined with "${other}"`);
  };
  if (schema.nullable === true) {
    const { nullable: _, ...rest } = schema;
    const inner = next(rest, path);
    return admitsNull(inner)
      ? inner
      : { kind: "union", exclusive: false, options: [inner, { kind: "null" }] };
  }
  if (schema.nullable !== undefined && schema.nullable !== false) {
    throw invalid(path, "nullable must be true or false");
  }
  if (schema.$ref !== undefined) {
    only("$ref", ["nullable"]);
    return resolveRef(schema.$ref, path, ctx, depth);
  }
  if (schema.allOf !== undefined) {
    only("allOf", ["nullable"]);
    if (!Array.isArray(schema.allOf) || schema.allOf.length !== 1) {
      throw invalid(path, "allOf is supported with exactly one schema");
    }
    return next(schema.allOf[0], `${path}/allOf/0`);
  }
  for (const keyword of ["anyOf", "oneOf"] as const) {
    if (schema[keyword] === undefined) continue;
    only(keyword, ["nullable"]);
    const options = schema[keyword];
    if (!Array.isArray(options) || options.length === 0) {
      throw invalid(path, `${keyword} must be a non-empty list of schemas`);
    }
    return {
      kind: "union",
      exclusive: keyword === "oneOf",
      options: options.map((s, i) => next(s, `${path}/${keyword}/${i}`)),
    };
  }
  const types = typesOf(schema, path);
  if (schema.const !== undefined) {
    if (!isLiteral(schema.const)) throw invalid(path, "const must be a string, number, boolean or null");
    if (types !== undefined && !jsonTypesOf(schema.const).some((t) => types.includes(t))) {
      throw invalid(path, `const ${JSON.stringify(schema.const)} is not of type ${types.join(" or ")}`);
    }
    if (Array.isArray(schema.enum) && !schema.enum.includes(schema.const)) {
      throw invalid(path, "const is not one of enum");
    }
    return { kind: "const", value: schema.const };
  }
  if (schema.enum !== undefined) {
    if (!Array.isArray(schema.enum) || schema.enum.length === 0 || !schema.enum.every(isLiteral)) {
      throw invalid(path, "enum must be a non-empty list of strings, numbers, booleans or nulls");
    }
    const values = types === undefined
      ? schema.enum
      : schema.enum.filter((v) => jsonTypesOf(v).some((t) => types.includes(t)));
    if (values.length === 0) throw invalid(path, `no enum value is of type ${types!.join(" or ")}`);
    return values.length === 1 ? { kind: "const", value: values[0]! } : { kind: "enum", values };
  }
  const kinds = types ?? inferTypes(schema);
  if (kinds.length === 0) return { kind: "any" };
  const nodes = kinds.map((t) => typedNode(t, schema, path, next));
  return nodes.length === 1 ? nodes[0]! : { kind: "union", exclusive: false, options: nodes };
}

function resolveRef(ref: unknown, path: string, ctx: Context, depth: number): SchemaNode {
  if (typeof ref !== "string" || !ref.startsWith("#")) {
    throw invalid(path, `$ref must be a local reference ("#/$defs/NAME"), got ${JSON.stringify(ref)}`);
  }
  if (ctx.resolving.includes(ref)) {
    throw invalid(path, `$ref ${JSON.stringify(ref)} is recursive; recursive schemas are not supported`);
  }
  let target: unknown = ctx.root;
  const pointer = ref.slice(1);
  if (pointer !== "") {
    if (!pointer.startsWith("/")) throw invalid(path, `$ref ${JSON.stringify(ref)} is not a JSON pointer`);
    for (const raw of pointer.slice(1).split("/")) {
      const segment = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
      target = isPlainObject(target) && Object.hasOwn(target, segment)
        ? target[segment]
        : Array.isArray(target) && /^\d+$/.test(segment)
        ? target[Number(segment)]
        : undefined;
      if (target === undefined) throw invalid(path, `$ref ${JSON.stringify(ref)} points at nothing`);
    }
  }
  ctx.resolving.push(ref);
  try {
    return walk(target, pointer, ctx, depth + 1);
  } finally {
    ctx.resolving.pop();
  }
}

/** The `type` keyword as a list, or undefined when absent. */
function typesOf(schema: Record<string, unknown>, path: string): string[] | undefined {
  const type = schema.type;
  if (type === undefined) return undefined;
  const list = Array.isArray(type) ? type : [type];
  if (list.length === 0 || !list.every((t) => typeof t === "string" && TYPES.has(t))) {
    throw invalid(
      path,
      `type ${
        JSON.stringify(type)
      } is not supported (object, array, string, number, integer, boolean, null, or a list of them)`,
    );
  }
  // "integer" is part of "number": a list with both is just "number".
  return list.includes("number") ? list.filter((t) => t !== "integer") : list;
}

/** The types a schema without `type` constrains, from its keywords (none: any value). */
function inferTypes(schema: Record<string, unknown>): string[] {
  const has = (keys: string[]) => keys.some((k) => schema[k] !== undefined);
  return [
    ...(has(OBJECT_KEYS) ? ["object"] : []),
    ...(has(ARRAY_KEYS) ? ["array"] : []),
    ...(has(STRING_KEYS) ? ["string"] : []),
    ...(has(NUMBER_KEYS) ? ["number"] : []),
  ];
}

function admitsNull(node: SchemaNode): boolean {
  switch (node.kind) {
    case "any":
    case "null":
      return true;
    case "const":
      return node.value === null;
    case "enum":
      return node.values.includes(null);
    case "union":
      return node.options.some(admitsNull);
    default:
      return false;
  }
}
