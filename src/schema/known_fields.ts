/**
 * What a zod schema says about the fields of an object at a path (for an unknown field, the names that are
 * known), and which known name an unknown one is likely a misspelling of.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { knownFields, nearestName } from "./known_fields.ts";
 * const S = z.object({ models: z.array(z.object({ sha256: z.string(), size: z.number() })) });
 * knownFields(S, ["models", 0], {}); // ["sha256", "size"]
 * nearestName("sha265", ["sha256", "size"]); // "sha256"
 * ```
 * @module
 */
import { z } from "zod";

type Key = string | number;

function isObject(value: unknown): boolean {
  return typeof value === "object" && value !== null;
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

/** The field names the object at `keys` of a `value` of `schema` may have, or null when the schema does not say. */
export function knownFields(schema: z.ZodTypeAny, keys: readonly Key[], value: unknown): string[] | null {
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
export function nearestName(key: string, known: readonly string[]): string | null {
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
