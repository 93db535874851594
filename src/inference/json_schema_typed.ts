/**
 * The schema of one JSON type as a {@link SchemaNode}, from the keywords of
 * that type: objects (`properties`, `required`, `additionalProperties`,
 * `propertyNames`, `min/maxProperties`), arrays (`items`, `prefixItems`,
 * draft-7 tuples, `min/maxItems`, `uniqueItems`), strings (`min/maxLength`,
 * `format`, `pattern`) and numbers (bounds in both drafts' spellings,
 * `multipleOf`), each checked for values nothing can satisfy.
 *
 * @example
 * ```ts
 * import { typedNode } from "./json_schema_typed.ts";
 * typedNode("string", { maxLength: 3 }, "", () => ({ kind: "any" })); // { kind: "string", maxLength: 3 }
 * ```
 * @module
 */
import { escapePointer, invalid, isPlainObject, type SchemaNode } from "./json_schema_node.ts";

/** Normalises a sub-schema at a path (the caller's walk). */
export type Next = (value: unknown, at: string) => SchemaNode;

/**
 * The node for `schema` read as `type` (one of object, array, string, number, integer, boolean, null).
 *
 * @example
 * ```ts
 * import { typedNode } from "./json_schema_typed.ts";
 * typedNode("integer", { minimum: 0 }, "/age", () => ({ kind: "any" })); // { kind: "number", integer: true, minimum: 0 }
 * ```
 */
export function typedNode(
  type: string,
  schema: Record<string, unknown>,
  path: string,
  next: Next,
): SchemaNode {
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
 * import { integerBounds } from "./json_schema_typed.ts";
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
