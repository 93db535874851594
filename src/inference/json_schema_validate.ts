/**
 * Checks a generated value against its {@link SchemaNode} after generation,
 * for what the grammar cannot enforce (`pattern`, most `format`s, bounds of
 * non-integer numbers, `multipleOf`, `uniqueItems`, `propertyNames`, string
 * lengths beside a date format, `oneOf` exclusivity) — and, as a safety net,
 * everything else.
 *
 * @example
 * ```ts
 * import { findMismatch } from "./json_schema_validate.ts";
 * findMismatch({ kind: "string", pattern: "^a" }, "b"); // { path: "/", keyword: "pattern", … }
 * ```
 * @module
 */
import { escapePointer, jsonTypesOf, type SchemaNode } from "./json_schema_node.ts";

/** Where and why a value does not match. */
export interface Mismatch {
  /** JSON pointer into the value. */
  path: string;
  /** The schema keyword that failed. */
  keyword: string;
  reason: string;
}

const FORMATS: Record<string, (s: string) => boolean> = {
  "date-time": (s) =>
    /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(s) &&
    !isNaN(Date.parse(s)),
  date: (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !isNaN(Date.parse(s)),
  time: (s) => /^\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$/.test(s),
  email: (s) => /^[^\s@"]+@[^\s@"]+\.[^\s@"]+$/.test(s),
  uuid: (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s),
  uri: (s) => /^[a-z][a-z0-9+.-]*:\S*$/i.test(s) && URL.canParse(s),
  url: (s) => URL.canParse(s),
  ipv4: (s) => /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(s),
  ipv6: (s) => s.includes(":") && URL.canParse(`http://[${s}]/`),
  hostname: (s) =>
    s.length <= 253 && s.split(".").every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(l)),
};

/**
 * The `format`s checked after generation; any other format is an annotation
 * (JSON Schema lets validators ignore unknown formats).
 *
 * @example
 * ```ts
 * import { CHECKED_FORMATS } from "./json_schema_validate.ts";
 * CHECKED_FORMATS.includes("email"); // true
 * ```
 */
export const CHECKED_FORMATS: readonly string[] = Object.keys(FORMATS);

/**
 * The first place where `value` does not match `node`, or undefined when it matches.
 *
 * @example
 * ```ts
 * import { findMismatch } from "./json_schema_validate.ts";
 * findMismatch({ kind: "number", integer: true, maximum: 3 }, 2); // undefined
 * ```
 */
export function findMismatch(node: SchemaNode, value: unknown, path = ""): Mismatch | undefined {
  const at = path === "" ? "/" : path;
  const fail = (keyword: string, reason: string): Mismatch => ({ path: at, keyword, reason });
  const types = jsonTypesOf(value);
  const want = (type: string) =>
    types.includes(type)
      ? undefined
      : fail("type", `${show(value)} is not ${type === "integer" ? "an" : "a"} ${type}`);
  switch (node.kind) {
    case "any":
      return undefined;
    case "const":
      return value === node.value ? undefined : fail("const", `${show(value)} is not ${show(node.value)}`);
    case "enum":
      return node.values.includes(value as never)
        ? undefined
        : fail("enum", `${show(value)} is not one of ${node.values.map(show).join(", ")}`);
    case "union": {
      const misses = node.options.map((o) => findMismatch(o, value, path));
      const matches = misses.filter((m) => m === undefined).length;
      if (matches === 0) {
        const keyword = node.exclusive ? "oneOf" : "anyOf";
        return fail(
          keyword,
          `${show(value)} matches none of the ${keyword} options (first: ${misses[0]!.reason})`,
        );
      }
      return node.exclusive && matches > 1
        ? fail("oneOf", `${show(value)} matches ${matches} of the oneOf options, not exactly one`)
        : undefined;
    }
    case "boolean":
    case "null":
      return want(node.kind);
    case "string":
      return want("string") ?? checkString(node, value as string, fail);
    case "number":
      return want(node.integer ? "integer" : "number") ?? checkNumber(node, value as number, fail);
    case "array": {
      const wrong = want("array");
      if (wrong) return wrong;
      const list = value as unknown[];
      if (node.minItems !== undefined && list.length < node.minItems) {
        return fail("minItems", `${list.length} items, fewer than ${node.minItems}`);
      }
      if (node.maxItems !== undefined && list.length > node.maxItems) {
        return fail("maxItems", `${list.length} items, more than ${node.maxItems}`);
      }
      for (const [i, item] of list.entries()) {
        const schema = node.prefixItems?.[i] ?? node.items;
        const miss = schema && findMismatch(schema, item, `${path}/${i}`);
        if (miss) return miss;
      }
      if (node.uniqueItems) {
        const seen = new Set(list.map(canonical));
        if (seen.size < list.length) return fail("uniqueItems", "the items are not unique");
      }
      return undefined;
    }
    case "object": {
      if (!types.includes("object")) return fail("type", `${show(value)} is not an object`);
      const object = value as Record<string, unknown>;
      const keys = Object.keys(object);
      const named = new Map(node.properties);
      for (const key of node.required) {
        if (!Object.hasOwn(object, key)) return fail("required", `"${key}" is missing`);
      }
      for (const key of keys) {
        const child = `${path}/${escapePointer(key)}`;
        const schema = named.get(key) ?? (typeof node.additional === "object" ? node.additional : undefined);
        if (schema === undefined && node.additional === false) {
          return { path: child, keyword: "additionalProperties", reason: `"${key}" is not allowed` };
        }
        const miss = (schema && findMismatch(schema, object[key], child)) ||
          (node.propertyNames && findMismatch(node.propertyNames, key, child));
        if (miss) {
          return node.propertyNames && miss.path === child && !named.has(key)
            ? { ...miss, keyword: `propertyNames/${miss.keyword}` }
            : miss;
        }
      }
      if (node.minProperties !== undefined && keys.length < node.minProperties) {
        return fail("minProperties", `${keys.length} properties, fewer than ${node.minProperties}`);
      }
      if (node.maxProperties !== undefined && keys.length > node.maxProperties) {
        return fail("maxProperties", `${keys.length} properties, more than ${node.maxProperties}`);
      }
      return undefined;
    }
  }
}

function checkString(
  node: Extract<SchemaNode, { kind: "string" }>,
  value: string,
  fail: (keyword: string, reason: string) => Mismatch,
): Mismatch | undefined {
  const length = [...value].length;
  if (node.minLength !== undefined && length < node.minLength) {
    return fail("minLength", `${show(value)} is shorter than ${node.minLength} characters`);
  }
  if (node.maxLength !== undefined && length > node.maxLength) {
    return fail("maxLength", `${show(value)} is longer than ${node.maxLength} characters`);
  }
  if (node.pattern !== undefined && !new RegExp(node.pattern, "u").test(value)) {
    return fail("pattern", `${show(value)} does not match ${node.pattern}`);
  }
  const format = node.format === undefined ? undefined : FORMATS[node.format];
  if (format !== undefined && !format(value)) {
    return fail("format", `${show(value)} is not a valid ${node.format}`);
  }
  return undefined;
}

function checkNumber(
  node: Extract<SchemaNode, { kind: "number" }>,
  value: number,
  fail: (keyword: string, reason: string) => Mismatch,
): Mismatch | undefined {
  if (!Number.isFinite(value)) return fail("type", `${value} is not a finite number`);
  if (node.integer && !Number.isSafeInteger(value)) return fail("type", `${value} is not a safe integer`);
  if (node.minimum !== undefined && value < node.minimum) {
    return fail("minimum", `${value} is less than ${node.minimum}`);
  }
  if (node.maximum !== undefined && value > node.maximum) {
    return fail("maximum", `${value} is greater than ${node.maximum}`);
  }
  if (node.exclusiveMinimum !== undefined && value <= node.exclusiveMinimum) {
    return fail("exclusiveMinimum", `${value} is not greater than ${node.exclusiveMinimum}`);
  }
  if (node.exclusiveMaximum !== undefined && value >= node.exclusiveMaximum) {
    return fail("exclusiveMaximum", `${value} is not less than ${node.exclusiveMaximum}`);
  }
  if (node.multipleOf !== undefined) {
    const quotient = value / node.multipleOf;
    if (Math.abs(quotient - Math.round(quotient)) > 1e-9) {
      return fail("multipleOf", `${value} is not a multiple of ${node.multipleOf}`);
    }
  }
  return undefined;
}

/** A key equal for equal JSON values (object keys sorted). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
