/**
 * A {@link SchemaNode} as a grammar: the schema node-llama-cpp's
 * `createGrammarForJsonSchema` reads (GbnfJsonSchema), plus GBNF rules for
 * what that schema language cannot say — integers within bounds, numbers
 * without a minus sign when the minimum is 0 or more, numbers without
 * exponents that overflow, UUID strings, the length of records' keys. Those values stand in the schema as
 * placeholder constants, whose literals {@link withRules} replaces in the
 * generated GBNF text by the rules.
 *
 * @example
 * ```ts
 * import { grammarFor, withRules } from "./json_schema_grammar.ts";
 * const { schema, rules } = grammarFor({ kind: "number", integer: true, minimum: 1, maximum: 5 });
 * const text = withRules('root ::= "\\"@lode-rule-0\\""', rules);
 * ```
 * @module
 */
import { integerBounds } from "./json_schema_typed.ts";
import type { SchemaNode } from "./json_schema_node.ts";

const DATE_FORMATS = new Set(["date-time", "date", "time"]);
const HEX = "[0-9a-fA-F]";
const UUID = `"\\"" ${HEX}{8} "-" ${HEX}{4} "-" ${HEX}{4} "-" ${HEX}{4} "-" ${HEX}{12} "\\""`;
/** A JSON number's exponent, short enough that the value stays finite. */
const EXPONENT = "([eE] [-+]? [0-9]{1,2})?";
const UNSIGNED = '("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})?';

/** The grammar form of a schema: node-llama-cpp's schema and the GBNF rules its placeholders stand for. */
export interface GrammarSchema {
  schema: Record<string, unknown>;
  /** Placeholder constant → GBNF expression. */
  rules: Map<string, string>;
  /**
   * The length bounds of keys of open objects (records), from their `propertyNames`: the loosest over
   * all open objects (the exact ones are checked after generation); undefined when any is unbounded.
   */
  keyLength?: { min: number; max: number };
}

/**
 * The grammar form of `node`. Every property is present in the output (what
 * node-llama-cpp's grammar does), which satisfies `required` whatever it lists. With `plain`, no GBNF
 * rules: what needs one stands as its bare type (the schema for a grammar lode does not write itself,
 * such as a tool's parameters in node-llama-cpp's function calls).
 *
 * @example
 * ```ts
 * import { grammarFor } from "./json_schema_grammar.ts";
 * grammarFor({ kind: "string", format: "email" }).schema; // { type: "string" }
 * ```
 */
export function grammarFor(node: SchemaNode, options: { plain?: boolean } = {}): GrammarSchema {
  const prefix = placeholderPrefix(node);
  const rules = new Map<string, string>();
  const byRule = new Map<string, string>();
  const rule = (gbnf: string, plain: Record<string, unknown>): Record<string, unknown> => {
    if (options.plain) return plain;
    let name = byRule.get(gbnf);
    if (name === undefined) {
      name = `${prefix}${rules.size}`;
      rules.set(name, gbnf);
      byRule.set(gbnf, name);
    }
    return { const: name };
  };
  const keyBounds: ({ min: number; max: number } | undefined)[] = [];
  const go = (n: SchemaNode): Record<string, unknown> => {
    switch (n.kind) {
      case "any":
        return {
          oneOf: [
            { type: ["string", "boolean", "null"] },
            rule(`"-"? ${UNSIGNED} ${EXPONENT}`, { type: "number" }),
            { type: "object", additionalProperties: true },
            { type: "array" },
          ],
        };
      case "const":
        return { const: n.value };
      case "enum":
        return { enum: n.values };
      case "union":
        return { oneOf: n.options.map(go) };
      case "object": {
        const out: Record<string, unknown> = {
          type: "object",
          properties: Object.fromEntries(n.properties.map(([k, v]) => [k, go(v)])),
        };
        if (n.additional !== false) {
          const names = n.propertyNames;
          keyBounds.push(
            names?.kind === "string" && names.maxLength !== undefined
              ? { min: names.minLength ?? 0, max: names.maxLength }
              : undefined,
          );
          out.additionalProperties = n.additional === true ? true : go(n.additional);
          if (n.minProperties !== undefined) out.minProperties = n.minProperties;
          if (n.maxProperties !== undefined) out.maxProperties = n.maxProperties;
        }
        return out;
      }
      case "array": {
        const out: Record<string, unknown> = { type: "array" };
        if (n.items !== undefined) out.items = go(n.items);
        if (n.prefixItems !== undefined) out.prefixItems = n.prefixItems.map(go);
        if (n.minItems !== undefined) out.minItems = n.minItems;
        if (n.maxItems !== undefined) out.maxItems = n.maxItems;
        return out;
      }
      case "string": {
        const plain = n.minLength === undefined && n.maxLength === undefined;
        if (n.format !== undefined && DATE_FORMATS.has(n.format) && plain) {
          return { type: "string", format: n.format };
        }
        if (n.format === "uuid" && plain) return rule(UUID, { type: "string" });
        const out: Record<string, unknown> = { type: "string" };
        if (n.minLength !== undefined) out.minLength = n.minLength;
        if (n.maxLength !== undefined) out.maxLength = n.maxLength;
        return out;
      }
      case "number": {
        if (n.integer) {
          const [lo, hi] = integerBounds(n)!;
          return rule(integerRange(BigInt(lo), BigInt(hi)), { type: "integer" });
        }
        const nonNegative = (n.minimum ?? -1) >= 0 || (n.exclusiveMinimum ?? -1) >= 0;
        return rule(`${nonNegative ? "" : '"-"? '}${UNSIGNED} ${EXPONENT}`, { type: "number" });
      }
      default:
        return { type: n.kind };
    }
  };
  const schema = go(node);
  const bounded = keyBounds.length > 0 && keyBounds.every((b) => b !== undefined);
  const keyLength = bounded
    ? { min: Math.min(...keyBounds.map((b) => b!.min)), max: Math.max(...keyBounds.map((b) => b!.max)) }
    : undefined;
  return { schema, rules, ...(keyLength ? { keyLength } : {}) };
}

/**
 * `gbnf` (node-llama-cpp's grammar for a {@link grammarFor} schema) with each
 * placeholder literal replaced by its rule. Throws when a placeholder is
 * missing from the text (node-llama-cpp wrote it differently).
 *
 * @example
 * ```ts
 * import { withRules } from "./json_schema_grammar.ts";
 * withRules('root ::= "\\"P0\\""', new Map([["P0", '"1" | "2"']]));
 * // 'root ::= lode-rule-0\nlode-rule-0 ::= "1" | "2"'
 * ```
 */
export function withRules(
  gbnf: string,
  rules: Map<string, string>,
  keyLength?: { min: number; max: number },
): string {
  let text = gbnf;
  const defs: string[] = [];
  // node-llama-cpp writes the key of every open object's extra property as `string-rule ":"`.
  if (keyLength !== undefined && text.includes('string-rule ":"')) {
    text = text.replaceAll('string-rule ":"', 'lode-key-rule ":"');
    defs.push(`lode-key-rule ::= "\\"" ( string-char-rule ){${keyLength.min},${keyLength.max}} "\\""`);
  }
  let i = 0;
  for (const [placeholder, expression] of rules) {
    const literal = `"\\"${placeholder}\\""`;
    if (!text.includes(literal)) throw new Error(`the grammar has no ${literal}`);
    const name = `lode-rule-${i++}`;
    text = text.replaceAll(literal, name);
    defs.push(`${name} ::= ${expression}`);
  }
  return [text, ...defs].join("\n");
}

/**
 * A GBNF expression matching exactly the decimal integers from `lo` to `hi`
 * (JSON spelling: no leading zeros, no `-0`).
 *
 * @example
 * ```ts
 * import { integerRange } from "./json_schema_grammar.ts";
 * integerRange(0n, 120n); // '[0-9] | [1-9] [0-9]{1} | "1" ("[0-1]" …)'
 * ```
 */
export function integerRange(lo: bigint, hi: bigint): string {
  const parts: string[] = [];
  if (lo < 0n) parts.push(`"-" (${naturalRange(hi < 0n ? -hi : 1n, -lo)})`);
  if (hi >= 0n) parts.push(naturalRange(lo < 0n ? 0n : lo, hi));
  return parts.join(" | ");
}

/** Non-negative integers from `lo` to `hi`, split by number of digits. */
function naturalRange(lo: bigint, hi: bigint): string {
  const alternatives: string[] = [];
  const loDigits = String(lo).length;
  const hiDigits = String(hi).length;
  for (let digits = loDigits; digits <= hiDigits; digits++) {
    const from = digits === loDigits ? lo : 10n ** BigInt(digits - 1);
    const to = digits === hiDigits ? hi : 10n ** BigInt(digits) - 1n;
    alternatives.push(sameLength(String(from), String(to)));
  }
  return alternatives.join(" | ");
}

/** Digit strings of one length from `x` to `y` (x ≤ y). */
function sameLength(x: string, y: string): string {
  if (x === y) return `"${x}"`;
  const rest = x.length - 1;
  const any = rest > 0 ? ` [0-9]{${rest}}` : "";
  if (x[0] === y[0]) return `"${x[0]}" (${sameLength(x.slice(1), y.slice(1))})`;
  if (/^0*$/.test(x.slice(1)) && /^9*$/.test(y.slice(1))) return `[${x[0]}-${y[0]}]${any}`;
  const [a, b] = [Number(x[0]), Number(y[0])];
  const alternatives = [`"${a}" (${sameLength(x.slice(1), "9".repeat(rest))})`];
  if (a + 1 <= b - 1) alternatives.push(`[${a + 1}-${b - 1}]${any}`);
  alternatives.push(`"${b}" (${sameLength("0".repeat(rest), y.slice(1))})`);
  return `(${alternatives.join(" | ")})`;
}

/** A placeholder prefix that no string literal of the schema starts with. */
function placeholderPrefix(node: SchemaNode): string {
  const literals: string[] = [];
  const collect = (n: SchemaNode): void => {
    if (n.kind === "const" && typeof n.value === "string") literals.push(n.value);
    if (n.kind === "enum") literals.push(...n.values.filter((v): v is string => typeof v === "string"));
    if (n.kind === "union") n.options.forEach(collect);
    if (n.kind === "object") {
      n.properties.forEach(([, v]) => collect(v));
      if (typeof n.additional === "object") collect(n.additional);
    }
    if (n.kind === "array") [n.items, ...(n.prefixItems ?? [])].forEach((v) => v && collect(v));
  };
  collect(node);
  let prefix = "@lode-rule-";
  while (literals.some((l) => l.startsWith(prefix))) prefix = `@${prefix}`;
  return prefix;
}
