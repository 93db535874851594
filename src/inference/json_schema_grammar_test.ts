import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert/strict";
import { checkJsonSchema } from "./json_schema.ts";
import { grammarFor, integerRange, withRules } from "./json_schema_grammar.ts";

/** The GBNF integer expression as a JavaScript regular expression (same syntax but for literals and spaces). */
function asRegExp(gbnf: string): RegExp {
  return new RegExp(
    `^(?:${gbnf.replace(/"([^"]*)"/g, (_, t: string) => t.replace("-", "\\-")).replaceAll(" ", "")})$`,
  );
}

Deno.test("integerRange matches exactly the integers within its bounds", () => {
  const ranges: [number, number][] = [
    [0, 120],
    [-5, 17],
    [1, 1],
    [-30, -7],
    [7, 1003],
    [99, 100],
    [0, 0],
    [-1, 0],
    [
      -120,
      250,
    ],
    [10, 99],
    [123, 4567],
  ];
  for (const [lo, hi] of ranges) {
    const re = asRegExp(integerRange(BigInt(lo), BigInt(hi)));
    for (let n = lo - 150; n <= hi + 150; n++) {
      assertEquals(re.test(String(n)), n >= lo && n <= hi, `${n} in [${lo}, ${hi}]: ${re}`);
    }
    assert(!re.test("-0"), `-0 in [${lo}, ${hi}]`);
  }
  const safe = asRegExp(integerRange(BigInt(Number.MIN_SAFE_INTEGER), BigInt(Number.MAX_SAFE_INTEGER)));
  for (const n of ["9007199254740991", "-9007199254740991", "0", "42", "-1"]) assert(safe.test(n), n);
  for (const n of ["9007199254740992", "-9007199254740992", "10000000000000000", "01"]) {
    assert(!safe.test(n), n);
  }
});

Deno.test("grammarFor: bounded integers, numbers and uuids become rules; the rest is node-llama-cpp's schema", () => {
  const { schema, rules } = grammarFor(
    checkJsonSchema({
      type: "object",
      properties: {
        age: { type: "integer", minimum: 0, maximum: 120 },
        again: { type: "integer", minimum: 0, maximum: 120 },
        size: { type: "number", minimum: 0 },
        id: { type: "string", format: "uuid" },
        day: { type: "string", format: "date" },
        mail: { type: "string", format: "email", maxLength: 30 },
        color: { type: "string", enum: ["red", "green"] },
        nick: { type: ["string", "null"] },
        scores: { type: "object", additionalProperties: { type: "boolean" }, maxProperties: 3 },
      },
    }).node,
  );
  const props = schema.properties as Record<string, unknown>;
  assertEquals(props.age, { const: "@lode-rule-0" });
  assertEquals(props.again, { const: "@lode-rule-0" }, "one rule per distinct expression");
  assertEquals(props.size, { const: "@lode-rule-1" });
  assertEquals(props.id, { const: "@lode-rule-2" });
  assertEquals(props.day, { type: "string", format: "date" });
  assertEquals(props.mail, { type: "string", maxLength: 30 });
  assertEquals(props.color, { enum: ["red", "green"] });
  assertEquals(props.nick, { oneOf: [{ type: "string" }, { type: "null" }] });
  assertEquals(props.scores, {
    type: "object",
    properties: {},
    additionalProperties: { type: "boolean" },
    maxProperties: 3,
  });
  assertEquals(rules.size, 3);
  assert(!rules.get("@lode-rule-1")!.startsWith('"-"'), "a non-negative number has no minus sign");
  // A schema whose own literals start like a placeholder gets another prefix.
  const clash = grammarFor(checkJsonSchema({ anyOf: [{ const: "@lode-rule-x" }, { type: "integer" }] }).node);
  assertEquals([...clash.rules.keys()], ["@@lode-rule-0"]);
});

Deno.test("withRules replaces each placeholder literal by a rule and refuses a grammar without it", () => {
  const text = withRules(
    'root ::= "{" "\\"a\\"" ":" "\\"P\\"" "}"\nval ::= "\\"P\\""',
    new Map([["P", '"1" | "2"']]),
  );
  assertEquals(
    text,
    'root ::= "{" "\\"a\\"" ":" lode-rule-0 "}"\nval ::= lode-rule-0\nlode-rule-0 ::= "1" | "2"',
  );
  assertThrows(() => withRules("root ::= x", new Map([["P", '"1"']])), /the grammar has no/);
});

Deno.test("withRules bounds the keys of open objects by their propertyNames lengths", () => {
  const record = checkJsonSchema({
    type: "object",
    propertyNames: { type: "string", maxLength: 6 },
    additionalProperties: { type: "boolean" },
  });
  assertEquals(record.grammar.keyLength, { min: 0, max: 6 });
  const gbnf = 'rule0 ::= string-rule ":" [ ]? boolean-rule\nstring-rule ::= "\\"" string-char-rule* "\\""';
  const text = withRules(gbnf, new Map(), record.grammar.keyLength);
  assert(text.startsWith('rule0 ::= lode-key-rule ":"'), text);
  assert(text.endsWith('lode-key-rule ::= "\\"" ( string-char-rule ){0,6} "\\""'), text);
  // One unbounded record leaves every key unbounded.
  const mixed = checkJsonSchema({
    type: "object",
    properties: {
      a: { type: "object", propertyNames: { maxLength: 6 }, additionalProperties: true },
      b: { type: "object", additionalProperties: true },
    },
  });
  assertEquals(mixed.grammar.keyLength, undefined);
});
