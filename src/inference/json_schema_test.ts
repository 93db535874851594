import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import { checkJsonSchema } from "./json_schema.ts";

function assertInvalid(schema: unknown, path: string, pattern: RegExp): void {
  assertThrows(() => checkJsonSchema(schema), (e: unknown) => {
    assert(isLodeError(e, "SCHEMA_INVALID"), `expected SCHEMA_INVALID, got ${String(e)}`);
    assertEquals(e.details.path, path, e.message);
    assert(pattern.test(e.message), e.message);
    return true;
  });
}

Deno.test("checkJsonSchema accepts the subset grammars enforce, unchanged but for anyOf → oneOf", () => {
  const person = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "Person",
    type: "object",
    properties: {
      name: { type: "string", minLength: 1, maxLength: 40, description: "full name" },
      age: { type: "integer" },
      height: { type: ["number", "null"] },
      tags: { type: "array", items: { enum: ["a", "b", 3, true, null] }, maxItems: 3 },
      born: { type: "string", format: "date" },
      kind: { const: "human" },
      pet: { anyOf: [{ type: "string" }, { $ref: "#/$defs/pet" }] },
      pair: { type: "array", prefixItems: [{ type: "boolean" }, { type: "null" }] },
      extra: { type: "object", additionalProperties: { type: "number" }, maxProperties: 4 },
    },
    required: ["name", "age"],
    $defs: { pet: { type: "object", properties: { legs: { type: "integer" } } } },
  };
  const checked = checkJsonSchema(person);
  const pet = (checked.properties as Record<string, Record<string, unknown>>).pet!;
  assertEquals(pet, { oneOf: [{ type: "string" }, { $ref: "#/$defs/pet" }] });
  assertEquals(
    { ...checked, properties: { ...(checked.properties as object), pet: person.properties.pet } },
    person,
  );
  assertEquals(checkJsonSchema({ type: "object" }), { type: "object" });
  assertEquals(checkJsonSchema({ $defs: { x: { anyOf: [{ type: "null" }] } }, $ref: "#/$defs/x" }).$defs, {
    x: { oneOf: [{ type: "null" }] },
  });
});

Deno.test("checkJsonSchema refuses what a grammar cannot enforce, naming where", () => {
  assertInvalid({ type: "integer", minimum: 0 }, "/", /"minimum" is not supported/);
  assertInvalid({ type: "string", pattern: "^a" }, "/", /"pattern" is not supported in a string schema/);
  assertInvalid(
    { type: "object", properties: { a: { type: "object", properties: { "b/c": { type: "date" } } } } },
    "/properties/a/properties/b~1c",
    /type "date" is not supported/,
  );
  assertInvalid({}, "/", /needs a type, enum, const, oneOf\/anyOf or \$ref/);
  assertInvalid({ allOf: [{ type: "string" }] }, "/", /"allOf" is not supported|needs a type/);
  assertInvalid({ type: "object", properties: {}, required: ["x"] }, "/required", /"x" is required but not/);
  assertInvalid({ $ref: "#/definitions/x" }, "/", /\$ref must be/);
  assertInvalid({ $ref: "#/$defs/missing", $defs: { other: { type: "null" } } }, "/", /\$ref must be/);
  assertInvalid({ enum: [] }, "/", /non-empty/);
  assertInvalid({ enum: [{}] }, "/", /enum must be/);
  assertInvalid({ const: [1] }, "/", /const must be/);
  assertInvalid({ const: 1, type: "integer" }, "/", /cannot be combined/);
  assertInvalid({ enum: [1], const: 1 }, "/", /cannot be combined/);
  assertInvalid({ type: "string", minLength: 5, maxLength: 2 }, "/", /greater than maxLength/);
  assertInvalid({ type: "array", minItems: -1 }, "/", /non-negative integer/);
  assertInvalid({ type: "string", format: "email" }, "/", /format "email"/);
  assertInvalid({ type: ["string", "object"] }, "/", /is not supported/);
  assertInvalid({ type: "integer", minLength: 1 }, "/", /"minLength" is not supported/);
  assertInvalid(
    { type: "object", properties: { a: { type: "null" }, b: { type: "null" } }, maxProperties: 1 },
    "/",
    /always present/,
  );
  assertInvalid("string", "/", /must be a JSON object/);
  assertInvalid([], "/", /must be a JSON object/);
  assertInvalid({ type: "array", items: [{ type: "string" }] }, "/items", /must be a JSON object/);
  assertInvalid({ oneOf: [] }, "/", /non-empty list/);

  let deep: Record<string, unknown> = { type: "null" };
  for (let i = 0; i < 100; i++) deep = { type: "array", items: deep };
  assertThrows(() => checkJsonSchema(deep), /nested more than 64 levels/);
});
