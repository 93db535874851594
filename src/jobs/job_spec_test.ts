import assert from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import { JOB_KINDS, parseJobSpec, specPathProblem } from "./job_spec.ts";

Deno.test("kinds: the stable strings", () => {
  assert.deepEqual(JOB_KINDS.slice(0, 7), [
    "model-download",
    "model-materialize-bundle",
    "model-validate-bundle",
    "model-warmup",
    "model-inference",
    "model-batch-inference",
    "model-external-command",
  ]);
});

Deno.test("an unknown kind is JOB_KIND_UNKNOWN (exit 2)", () => {
  assert.throws(() => parseJobSpec("model-teleport", {}), (e) => {
    assert.ok(isLodeError(e, "JOB_KIND_UNKNOWN"));
    assert.equal(e.exitCode, 2);
    return true;
  });
});

Deno.test("spec paths: relative, no `..`, not absolute", () => {
  assert.equal(specPathProblem("out/models"), null);
  assert.equal(specPathProblem("./out"), null);
  assert.match(specPathProblem("../out")!, /`\.\.`/);
  assert.match(specPathProblem("a/../../b")!, /`\.\.`/);
  assert.match(specPathProblem("/etc")!, /absolute/);
  assert.match(specPathProblem("C:\\x")!, /absolute/);
  assert.match(specPathProblem("")!, /empty/);
  assert.equal(specPathProblem("a..b"), null, "a name with two dots is not a `..` segment");
});

Deno.test("a spec path with `..` or an absolute one is JOB_SPEC_INVALID naming the field", () => {
  for (const target of ["../elsewhere", "/tmp/x", "a/../../b"]) {
    assert.throws(() => parseJobSpec("model-materialize-bundle", { model: "m", target }), (e) => {
      assert.ok(isLodeError(e, "JOB_SPEC_INVALID"), String(e));
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /target/);
      return true;
    });
  }
  assert.throws(
    () => parseJobSpec("model-external-command", { model: "m", command: "../bin/run" }),
    (e) => isLodeError(e, "JOB_SPEC_INVALID"),
  );
  assert.equal(
    parseJobSpec("model-external-command", { model: "m", command: "sh" }).kind,
    "model-external-command",
  );
});

Deno.test("a spec: defaults filled, unknown fields and a kind that disagrees refused", () => {
  const spec = parseJobSpec("model-materialize-bundle", { model: "m", target: "out" });
  assert.deepEqual(spec, { kind: "model-materialize-bundle", model: "m", target: "out", mode: "symlink" });
  assert.throws(
    () => parseJobSpec("model-validate-bundle", { model: "m", extra: 1 }),
    (e) => isLodeError(e, "JOB_SPEC_INVALID"),
  );
  assert.throws(
    () => parseJobSpec("model-validate-bundle", { kind: "sync", model: "m" }),
    (e) => isLodeError(e, "JOB_SPEC_INVALID"),
  );
  assert.throws(() => parseJobSpec("model-validate-bundle", [1]), (e) => isLodeError(e, "JOB_SPEC_INVALID"));
});
