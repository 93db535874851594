import assert from "node:assert/strict";
import { lineAt, lineOfPath, lineOfSyntaxError } from "./json_locate.ts";

const TEXT = `{
  "lockfile_version": 1,
  "models": [
    {
      "name": "a",
      "files": [
        { "role": "model", "sha256": "x" }
      ]
    },
    {
      "name": "b",
      "files": []
    }
  ]
}
`;

Deno.test("lineAt counts newlines before an offset", () => {
  assert.equal(lineAt("a\nb\nc", 0), 1);
  assert.equal(lineAt("a\nb\nc", 2), 2);
  assert.equal(lineAt("a\nb\nc", 4), 3);
});

Deno.test("lineOfPath finds the line of a nested value, or of the deepest object that exists", () => {
  assert.equal(lineOfPath(TEXT, []), 1);
  assert.equal(lineOfPath(TEXT, ["lockfile_version"]), 2);
  assert.equal(lineOfPath(TEXT, ["models", 0, "files", 0, "sha256"]), 7);
  assert.equal(lineOfPath(TEXT, ["models", 1, "name"]), 11);
  assert.equal(lineOfPath(TEXT, ["models", 1, "files"]), 12);
  assert.equal(lineOfPath(TEXT, ["models", 1, "reference"]), 10, "missing field: its object");
  assert.equal(lineOfPath('{"a": "x\\"y", "b": [true, null, {"c": 1}]}', ["b", 2, "c"]), 1);
});

Deno.test("lineOfSyntaxError names the line of the first bad character, with or without a V8 position", () => {
  assert.equal(lineOfSyntaxError(TEXT), null);
  assert.equal(lineOfSyntaxError('{\n  "a": 1,\n  "b": x\n}'), 3);
  assert.equal(lineOfSyntaxError('{\n  "a": 1,\n}'), 3);
  assert.equal(lineOfSyntaxError('{\n  "a": 1\n'), 2, "cut short: its last line");
  assert.equal(lineOfSyntaxError("[\n1,\n2\n]\nx"), 5);
});
