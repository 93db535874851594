import assert from "node:assert/strict";
import { z } from "zod";
import { knownFields, nearestName } from "./known_fields.ts";

Deno.test("knownFields: through lists, optionals, refinements, intersections and tagged unions; null where unknown", () => {
  const Item = z.object({ sha256: z.string(), size: z.number() });
  const S = z.object({
    models: z.array(Item).optional(),
    checked: Item.refine(() => true),
    both: z.intersection(z.object({ a: z.string() }), z.object({ b: z.string() })),
    op: z.discriminatedUnion("op", [
      z.object({ op: z.literal("x"), p: z.string() }),
      z.object({ op: z.literal("y") }),
    ]),
    map: z.record(Item),
  });
  assert.deepEqual(knownFields(S, [], {}), ["models", "checked", "both", "op", "map"]);
  assert.deepEqual(knownFields(S, ["models", 3], {}), ["sha256", "size"]);
  assert.deepEqual(knownFields(S, ["checked"], {}), ["sha256", "size"]);
  assert.deepEqual(knownFields(S, ["both"], {}), ["a", "b"]);
  assert.deepEqual(knownFields(S, ["op"], { op: { op: "x" } }), ["op", "p"]);
  assert.equal(knownFields(S, ["op"], { op: { op: "z" } }), null);
  assert.deepEqual(knownFields(S, ["map", "any"], {}), ["sha256", "size"]);
  assert.equal(knownFields(z.string(), [], "s"), null);
});

Deno.test("nearestName: one edit for short names, two for longer ones; nothing far off", () => {
  assert.equal(nearestName("stor", ["store", "models"]), "store");
  assert.equal(nearestName("sha265", ["sha256", "size"]), "sha256");
  assert.equal(nearestName("Min_Free_Byte", ["min_free_bytes"]), "min_free_bytes");
  assert.equal(nearestName("y", ["op"]), null);
  assert.equal(nearestName("colour", ["store", "models"]), null);
});
