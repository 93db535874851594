import assert from "node:assert/strict";
import { dirname, resolve } from "node:path";
import { absolutePath, baseName, joinPath, parentDir } from "./path.ts";

Deno.test("joinPath joins with single separators", () => {
  assert.equal(joinPath("/a", "b", "c"), "/a/b/c");
  assert.equal(joinPath("/a/", "/b"), "/a/b");
  assert.equal(joinPath("a", "", "b"), "a/b");
  assert.equal(joinPath("", "b"), "b");
});

Deno.test("parentDir agrees with node:path dirname on POSIX paths", () => {
  for (const p of ["/a/b/c", "/a/b/c/", "/a", "/", "a", "a/b", "./a/b", "/a//b"]) {
    assert.equal(parentDir(p), dirname(p).replace(/\/\/+/g, "/"), p);
  }
});

Deno.test("baseName is the last segment", () => {
  assert.equal(baseName("/a/b/m.gguf"), "m.gguf");
  assert.equal(baseName("m.gguf"), "m.gguf");
  assert.equal(baseName("/a/b/"), "b");
  assert.equal(baseName("C:\\m\\x.gguf"), "x.gguf");
});

Deno.test("absolutePath agrees with node:path resolve on POSIX paths", () => {
  for (const path of ["/models/../models", "/a//b/./c/", "rel/../x", ".", "..", "/", "a/b/../../..", "/.."]) {
    assert.equal(absolutePath(path, "/srv/work"), resolve("/srv/work", path), path);
  }
  assert.equal(absolutePath("m"), resolve("m"));
});
