import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import { checkGenerated, checkJsonSchema } from "./json_schema.ts";
import { normaliseSchema } from "./json_schema_normalise.ts";

function assertInvalid(schema: unknown, path: string, pattern: RegExp): void {
  assertThrows(() => checkJsonSchema(schema), (e: unknown) => {
    assert(isLodeError(e, "SCHEMA_INVALID"), `expected SCHEMA_INVALID, got ${String(e)}`);
    assertEquals(e.details.path, path, e.message);
    assert(pattern.test(e.message), e.message);
    return true;
  });
}

function assertMismatch(schema: unknown, text: string, path: string, keyword: string): void {
  assertThrows(() => checkGenerated(checkJsonSchema(schema), text), (e: unknown) => {
    assert(isLodeError(e, "SCHEMA_MISMATCH"), `expected SCHEMA_MISMATCH, got ${String(e)}`);
    assertEquals([e.details.path, e.details.keyword], [path, keyword], e.message);
    return true;
  });
}

const str = { kind: "string" } as const;
const nul = { kind: "null" } as const;

Deno.test("type + enum and type + const become plain enums and constants", () => {
  assertEquals(normaliseSchema({ type: "string", enum: ["red", "green"] }), {
    kind: "enum",
    values: ["red", "green"],
  });
  assertEquals(normaliseSchema({ type: "string", const: "circle" }), { kind: "const", value: "circle" });
  // Values of other types than `type` are not admitted.
  assertEquals(normaliseSchema({ type: "integer", enum: [1, "1", 2.5, 3] }), {
    kind: "enum",
    values: [1, 3],
  });
  assertEquals(normaliseSchema({ type: ["string", "null"], enum: ["a", null, 1] }), {
    kind: "enum",
    values: ["a", null],
  });
  assertEquals(normaliseSchema({ enum: ["only"] }), { kind: "const", value: "only" });
  assertInvalid({ type: "string", const: 3 }, "/", /const 3 is not of type string/);
  assertInvalid({ type: "string", enum: [1, 2] }, "/", /no enum value is of type string/);
  assertInvalid({ enum: [{ a: 1 }] }, "/", /enum must be a non-empty list/);
});

Deno.test("nullable and type lists become unions with null", () => {
  assertEquals(normaliseSchema({ type: "string", nullable: true }), {
    kind: "union",
    exclusive: false,
    options: [str, nul],
  });
  assertEquals(normaliseSchema({ type: ["string", "null"] }), {
    kind: "union",
    exclusive: false,
    options: [str, nul],
  });
  assertEquals(normaliseSchema({ anyOf: [{ type: "string" }, { type: "null" }] }), {
    kind: "union",
    exclusive: false,
    options: [str, nul],
  });
  // Already nullable: no second null.
  assertEquals(
    normaliseSchema({ type: ["string", "null"], nullable: true }),
    normaliseSchema({ type: ["string", "null"] }),
  );
  assertEquals(normaliseSchema({ type: "string", nullable: false }), str);
  assertEquals(normaliseSchema({ type: ["integer", "number"] }), { kind: "number", integer: false });
});

Deno.test("local $refs to $defs, definitions and other pointers are inlined", () => {
  const city = { kind: "object", properties: [["city", str]], required: ["city"], additional: false };
  const home = {
    type: "object",
    properties: { city: { type: "string" } },
    required: ["city"],
    additionalProperties: false,
  };
  assertEquals(normaliseSchema({ $ref: "#/$defs/home", $defs: { home } }), city);
  // zod 3 (openai's zodResponseFormat): definitions, refs between definitions, and refs into properties.
  const zod3 = {
    type: "object",
    properties: { home: { $ref: "#/definitions/h" }, work: { $ref: "#/properties/home" } },
    required: ["home", "work"],
    additionalProperties: false,
    definitions: {
      h: {
        type: "object",
        properties: { city: { $ref: "#/definitions/c" } },
        required: ["city"],
        additionalProperties: false,
      },
      c: { type: "string" },
      unused: { not: "looked at" },
    },
  };
  assertEquals(normaliseSchema(zod3), {
    kind: "object",
    properties: [["home", city], ["work", city]],
    required: ["home", "work"],
    additional: false,
  });
  // Pydantic wraps a described $ref in a one-schema allOf.
  assertEquals(
    normaliseSchema({ allOf: [{ $ref: "#/$defs/home" }], description: "d", $defs: { home } }),
    city,
  );
  assertEquals(normaliseSchema({ $ref: "#/$defs/a~1b", $defs: { "a/b": { type: "boolean" } } }), {
    kind: "boolean",
  });
});

Deno.test("recursive, remote and dangling $refs are refused with their path", () => {
  assertInvalid(
    { type: "object", properties: { kids: { type: "array", items: { $ref: "#" } } } },
    "/properties/kids/items",
    /\$ref "#" is recursive/,
  );
  assertInvalid(
    { $ref: "#/$defs/n", $defs: { n: { anyOf: [{ type: "null" }, { $ref: "#/$defs/n" }] } } },
    "/$defs/n/anyOf/1",
    /recursive/,
  );
  assertInvalid({ $ref: "https://example.com/s.json" }, "/", /must be a local reference/);
  assertInvalid({ $ref: "#/$defs/missing", $defs: {} }, "/", /points at nothing/);
  assertInvalid(
    { $ref: "#/$defs/x", type: "string", $defs: { x: { type: "string" } } },
    "/",
    /"\$ref" cannot be combined with "type"/,
  );
});

Deno.test("numbers keep their bounds; draft-4 exclusive booleans become numbers", () => {
  assertEquals(normaliseSchema({ type: "integer", minimum: 0, maximum: 120 }), {
    kind: "number",
    integer: true,
    minimum: 0,
    maximum: 120,
  });
  assertEquals(normaliseSchema({ type: "number", minimum: 0, exclusiveMinimum: true, multipleOf: 0.5 }), {
    kind: "number",
    integer: false,
    exclusiveMinimum: 0,
    multipleOf: 0.5,
  });
  assertInvalid({ type: "integer", minimum: 1.2, maximum: 1.8 }, "/", /no integer lies/);
  assertInvalid({ type: "number", minimum: 2, maximum: 1 }, "/", /no number lies/);
  assertInvalid({ type: "number", multipleOf: 0 }, "/", /multipleOf must be greater than 0/);
});

Deno.test("objects: records, propertyNames, optional properties and min/maxProperties", () => {
  // zod 4's z.record(z.string(), z.number()): a plain-string propertyNames says nothing.
  assertEquals(
    normaliseSchema({
      type: "object",
      propertyNames: { type: "string" },
      additionalProperties: { type: "number" },
    }),
    {
      kind: "object",
      properties: [],
      required: [],
      additional: { kind: "number", integer: false },
    },
  );
  const keyed = normaliseSchema({
    type: "object",
    propertyNames: { pattern: "^k" },
    additionalProperties: true,
  });
  assertEquals(keyed.kind === "object" && keyed.propertyNames, { kind: "string", pattern: "^k" });
  assertEquals(normaliseSchema({ properties: { a: {} } }), {
    kind: "object",
    properties: [["a", { kind: "any" }]],
    required: [],
    additional: false,
  });
  assertInvalid(
    { type: "object", properties: { a: { type: "string" } }, maxProperties: 0 },
    "/",
    /always present/,
  );
  assertInvalid(
    { type: "object", properties: {}, required: ["x"] },
    "/required",
    /"x" is required but not listed/,
  );
});

Deno.test("arrays: draft-7 tuples become prefixItems", () => {
  assertEquals(
    normaliseSchema({ type: "array", items: [{ type: "string" }, { type: "null" }], additionalItems: false }),
    {
      kind: "array",
      prefixItems: [str, nul],
      maxItems: 2,
    },
  );
  assertEquals(
    normaliseSchema({ type: "array", items: { type: "string" }, uniqueItems: true, minItems: 1 }),
    {
      kind: "array",
      items: str,
      minItems: 1,
      uniqueItems: true,
    },
  );
  assertInvalid({ type: "array", prefixItems: [{}, {}], maxItems: 1 }, "/", /maxItems is smaller/);
});

Deno.test("unsupported keywords are refused naming the keyword and the path", () => {
  assertInvalid({ not: { type: "string" } }, "/", /"not" is not supported/);
  assertInvalid(
    { type: "object", properties: { a: { type: "string", if: {} } } },
    "/properties/a",
    /"if" is not supported/,
  );
  assertInvalid(
    { type: "object", patternProperties: { "^a": {} } },
    "/",
    /"patternProperties" is not supported/,
  );
  assertInvalid(
    { allOf: [{ type: "string" }, { minLength: 1 }] },
    "/",
    /allOf is supported with exactly one schema/,
  );
  assertInvalid({ type: "date" }, "/", /type "date" is not supported/);
  assertInvalid({ type: "string", pattern: "(" }, "/pattern", /not a regular expression/);
  assertInvalid({ anyOf: [] }, "/", /anyOf must be a non-empty list/);
  assertInvalid({ type: "object", properties: { a: false } }, "/properties/a", /must be a JSON object/);
  assertInvalid({ type: "string", nullable: "yes" }, "/", /nullable must be true or false/);
  let deep: Record<string, unknown> = { type: "string" };
  for (let i = 0; i < 80; i++) deep = { type: "array", items: deep };
  assertThrows(
    () => checkJsonSchema(deep),
    (e: unknown) => isLodeError(e, "SCHEMA_INVALID") && /nested more than/.test(e.message),
  );
  // Inlining a diamond of $refs is bounded.
  const defs: Record<string, unknown> = { d0: { type: "string" } };
  for (let i = 1; i <= 20; i++) {
    defs[`d${i}`] = {
      type: "array",
      prefixItems: [{ $ref: `#/$defs/d${i - 1}` }, { $ref: `#/$defs/d${i - 1}` }],
    };
  }
  assertThrows(
    () => checkJsonSchema({ $ref: "#/$defs/d20", $defs: defs }),
    (e: unknown) => isLodeError(e, "SCHEMA_INVALID") && /more than 10000 parts/.test(e.message),
  );
});

Deno.test("checkGenerated: what the grammar cannot force is checked after generation", () => {
  assertMismatch({ type: "string", pattern: "^[a-z]+$" }, '"ABC"', "/", "pattern");
  assertMismatch({ type: "string", format: "email" }, '"nope"', "/", "format");
  checkGenerated(checkJsonSchema({ type: "string", format: "email" }), '"a@b.co"');
  checkGenerated(checkJsonSchema({ type: "string", format: "x-unknown" }), '"anything"');
  assertMismatch(
    { type: "object", properties: { n: { type: "number", maximum: 1 } } },
    '{"n": 1.5}',
    "/n",
    "maximum",
  );
  assertMismatch({ type: "number", exclusiveMinimum: 0 }, "0", "/", "exclusiveMinimum");
  assertMismatch({ type: "integer", multipleOf: 5 }, "12", "/", "multipleOf");
  assertMismatch(
    { type: "array", items: { type: "integer" }, uniqueItems: true },
    "[1, 1]",
    "/",
    "uniqueItems",
  );
  assertMismatch(
    { type: "object", propertyNames: { pattern: "^k" }, additionalProperties: true },
    '{"x": 1}',
    "/x",
    "propertyNames/pattern",
  );
  assertMismatch({ oneOf: [{ type: "number" }, { type: "integer" }] }, "3", "/", "oneOf");
  assertMismatch(
    { type: "object", properties: { a: { type: "string" } }, required: ["a"] },
    "{}",
    "/",
    "required",
  );
  assertMismatch({ type: "object", properties: {} }, '{"z": 1}', "/z", "additionalProperties");
  assertMismatch({ type: "string", format: "date", maxLength: 3 }, '"2024-01-01"', "/", "maxLength");
  assertMismatch({ type: "integer" }, "1e300", "/", "type");
  assertMismatch({ type: "integer" }, "{", "/", "type");
  checkGenerated(
    checkJsonSchema({ anyOf: [{ type: "object", properties: { kind: { const: "a" } } }, { type: "null" }] }),
    '{"kind": "a"}',
  );
});

Deno.test("Pydantic's schemas (JSON fixtures): read, and the strict one's pattern/format/multipleOf checked after", async () => {
  const read = async (name: string) =>
    JSON.parse(await Deno.readTextFile(new URL(`../../tests/fixtures/pydantic/${name}`, import.meta.url)));
  const person = checkJsonSchema(await read("person.json"));
  assertEquals(person.grammar.keyLength, { min: 0, max: 6 });
  const contact = checkJsonSchema(await read("contact_strict.json"));
  const good = {
    email: "a@b.co",
    id: "123e4567-e89b-12d3-a456-426614174000",
    born: null,
    phones: [{ kind: "home", number: "+44 1234 567" }],
    tags: ["x", "y"],
    weight: 71.5,
  };
  checkGenerated(contact, JSON.stringify(good));
  const bad = (patch: Record<string, unknown>, path: string, keyword: string) =>
    assertThrows(() => checkGenerated(contact, JSON.stringify({ ...good, ...patch })), (e: unknown) => {
      assert(isLodeError(e, "SCHEMA_MISMATCH"), String(e));
      assertEquals([e.details.path, e.details.keyword], [path, keyword], e.message);
      return true;
    });
  bad({ phones: [{ kind: "home", number: "call me" }] }, "/phones/0/number", "pattern");
  bad({ email: "nope" }, "/email", "format");
  bad({ weight: 71.2 }, "/weight", "multipleOf");
  bad({ tags: ["x", "x"] }, "/tags", "uniqueItems");
  bad({ born: "2024-02-31x" }, "/born", "anyOf");
});
