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
import {
  escapePointer,
  invalid,
  isLiteral,
  isPlainObject,
  jsonTypesOf,
  type SchemaNode,
} from "./json_schema_node.ts";

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
  const nodes = kinds.map((t) => typed(t, schema, path, next));
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

type Next = (value: unknown, at: string) => SchemaNode;

function typed(type: string, schema: Record<string, unknown>, path: string, next: Next): SchemaNode {
  switch (type) {
    case "object":
      return objectNode(schema, path, next);
    case "array":
      return arrayNode(schema, path, next);
    case "string": {
      const node: SchemaNode = { kind: "string", ...counts(schema, path, "minLength", "maxLength") };
      if (schema.format !== undefined) {
        if (typeof schema.format !== "string") throw invalid(path, "format must be a string");
        node.format = schema.format;
      }
      if (schema.pattern !== undefined) {
        if (typeof schema.pattern !== "string") throw invalid(path, "pattern must be a string");
        try {
          new RegExp(schema.pattern, "u");
        } catch (e) {
          throw invalid(`${path}/pattern`, `not a regular expression: ${(e as Error).message}`);
        }
        node.pattern = schema.pattern;
      }
      return node;
    }
    case "number":
    case "integer":
      return numberNode(type === "integer", schema, path);
    default:
      return { kind: type as "boolean" | "null" };
  }
}

function objectNode(schema: Record<string, unknown>, path: string, next: Next): SchemaNode {
  const properties = schema.properties ?? {};
  if (!isPlainObject(properties)) throw invalid(`${path}/properties`, "must be an object of schemas");
  const entries = Object.entries(properties).map(([k, v]): [string, SchemaNode] => [
    k,
    next(v, `${path}/properties/${escapePointer(k)}`),
  ]);
  const required = schema.required ?? [];
  if (!Array.isArray(required) || !required.every((k) => typeof k === "string")) {
    throw invalid(`${path}/required`, "must be a list of property names");
  }
  const missing = required.find((k) => !Object.hasOwn(properties, k));
  if (missing !== undefined) {
    throw invalid(`${path}/required`, `"${missing}" is required but not listed in properties`);
  }
  const extra = schema.additionalProperties;
  const additional = extra === undefined || extra === false
    ? false
    : extra === true
    ? true
    : next(extra, `${path}/additionalProperties`);
  const node: SchemaNode = {
    kind: "object",
    properties: entries,
    required,
    additional,
    ...counts(schema, path, "minProperties", "maxProperties"),
  };
  if (schema.propertyNames !== undefined) {
    const names = next(schema.propertyNames, `${path}/propertyNames`);
    if (!(names.kind === "string" && Object.keys(names).length === 1) && names.kind !== "any") {
      node.propertyNames = names;
    }
  }
  const count = entries.length;
  const { minProperties: lo, maxProperties: hi } = node;
  if ((hi !== undefined && hi < count) || (additional === false && lo !== undefined && lo > count)) {
    throw invalid(
      path,
      `every one of the ${count} listed properties is always present, so min/maxProperties cannot hold`,
    );
  }
  return node;
}

function arrayNode(schema: Record<string, unknown>, path: string, next: Next): SchemaNode {
  const node: SchemaNode = { kind: "array", ...counts(schema, path, "minItems", "maxItems") };
  const list = (value: unknown, at: string) => {
    if (!Array.isArray(value)) throw invalid(at, "must be a list of schemas");
    return value.map((s, i) => next(s, `${at}/${i}`));
  };
  if (Array.isArray(schema.items)) {
    // Draft 4–7 tuples: items as a list, additionalItems for the rest.
    node.prefixItems = list(schema.items, `${path}/items`);
    const more = schema.additionalItems;
    if (more === false) node.maxItems = Math.min(node.maxItems ?? Infinity, node.prefixItems.length);
    else if (more !== undefined && more !== true) node.items = next(more, `${path}/additionalItems`);
  } else {
    if (schema.items !== undefined) node.items = next(schema.items, `${path}/items`);
    if (schema.prefixItems !== undefined) node.prefixItems = list(schema.prefixItems, `${path}/prefixItems`);
  }
  if (schema.uniqueItems !== undefined) {
    if (typeof schema.uniqueItems !== "boolean") throw invalid(path, "uniqueItems must be true or false");
    if (schema.uniqueItems) node.uniqueItems = true;
  }
  if (
    node.prefixItems !== undefined && node.maxItems !== undefined && node.maxItems < node.prefixItems.length
  ) {
    throw invalid(path, "maxItems is smaller than the number of prefixItems");
  }
  return node;
}

function numberNode(integer: boolean, schema: Record<string, unknown>, path: string): SchemaNode {
  const node: SchemaNode = { kind: "number", integer };
  const num = (key: string) => {
    const value = schema[key];
    if (value !== undefined && !(typeof value === "number" && Number.isFinite(value))) {
      throw invalid(path, `${key} must be a number`);
    }
    return value as number | undefined;
  };
  const [min, max, multipleOf] = [num("minimum"), num("maximum"), num("multipleOf")];
  // Draft 4 writes exclusive bounds as booleans beside minimum/maximum.
  const exclusive = (key: "exclusiveMinimum" | "exclusiveMaximum", bound: number | undefined) => {
    const value = schema[key];
    if (typeof value === "boolean") return value ? bound : undefined;
    return num(key);
  };
  const exMin = exclusive("exclusiveMinimum", min);
  const exMax = exclusive("exclusiveMaximum", max);
  if (min !== undefined && schema.exclusiveMinimum !== true) node.minimum = min;
  if (max !== undefined && schema.exclusiveMaximum !== true) node.maximum = max;
  if (exMin !== undefined) node.exclusiveMinimum = exMin;
  if (exMax !== undefined) node.exclusiveMaximum = exMax;
  if (multipleOf !== undefined) {
    if (!(multipleOf > 0)) throw invalid(path, "multipleOf must be greater than 0");
    node.multipleOf = multipleOf;
  }
  const lo = Math.max(node.minimum ?? -Infinity, node.exclusiveMinimum ?? -Infinity);
  const hi = Math.min(node.maximum ?? Infinity, node.exclusiveMaximum ?? Infinity);
  const open = node.exclusiveMinimum === lo || node.exclusiveMaximum === hi;
  if (lo > hi || (lo === hi && open)) {
    throw invalid(path, "no number lies between the minimum and the maximum");
  }
  if (integer && integerBounds(node) === undefined) {
    throw invalid(path, "no integer lies between the minimum and the maximum");
  }
  return node;
}

/**
 * The smallest and largest integer a number node admits, within JavaScript's
 * safe integers; undefined when there is none.
 *
 * @example
 * ```ts
 * import { integerBounds } from "./json_schema_normalise.ts";
 * integerBounds({ exclusiveMinimum: 0, maximum: 9.5 }); // [1, 9]
 * ```
 */
export function integerBounds(
  node: { minimum?: number; maximum?: number; exclusiveMinimum?: number; exclusiveMaximum?: number },
): [number, number] | undefined {
  const candidates = [
    Number.MIN_SAFE_INTEGER,
    node.minimum === undefined ? -Infinity : Math.ceil(node.minimum),
    node.exclusiveMinimum === undefined ? -Infinity : Math.floor(node.exclusiveMinimum) + 1,
  ];
  const lo = Math.max(...candidates);
  const hi = Math.min(
    Number.MAX_SAFE_INTEGER,
    node.maximum === undefined ? Infinity : Math.floor(node.maximum),
    node.exclusiveMaximum === undefined ? Infinity : Math.ceil(node.exclusiveMaximum) - 1,
  );
  return lo <= hi ? [lo, hi] : undefined;
}

/** Non-negative integer keywords `min` and `max`, checked and ordered. */
function counts<K extends string>(
  schema: Record<string, unknown>,
  path: string,
  min: K,
  max: K,
): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const key of [min, max]) {
    const value = schema[key];
    if (value === undefined) continue;
    if (!(typeof value === "number" && Number.isInteger(value) && value >= 0)) {
      throw invalid(path, `${key} must be a non-negative integer`);
    }
    out[key] = value;
  }
  if (out[min] !== undefined && out[max] !== undefined && out[min]! > out[max]!) {
    throw invalid(path, `${min} (${out[min]}) is greater than ${max} (${out[max]})`);
  }
  return out;
}
