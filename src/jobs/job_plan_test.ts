import assert from "node:assert/strict";
import { JOB_KINDS, type JobKind, parseJobSpec } from "./job_spec.ts";
import { lookUpJobRef, planJob } from "./job_plan.ts";
import type { Registry } from "../registry/registry.ts";

const SPECS: Record<JobKind, Record<string, unknown>> = {
  "model-download": { ref: "hf:Qwen/Qwen3-0.6B-GGUF:Q8_0@main" },
  "model-materialize-bundle": { model: "m", target: "out" },
  "model-validate-bundle": { model: "m" },
  "model-warmup": { model: "m" },
  "model-inference": { model: "m", prompt: "Once" },
  "model-batch-inference": { model: "m", inputs: "in.jsonl", output: "out.jsonl" },
  "model-external-command": { model: "m", command: "sh", args: ["-c", "echo {model}"] },
  "lock-add": { ref: "stories260K" },
  sync: {},
  "model-push": { model: "m", target: "oci://127.0.0.1:5000/m/stories:v1" },
};

// Planning needs no permission at all: it reads no file, writes none, opens no socket, runs nothing.
Deno.test({
  name: "planning every kind needs no read, write, net, run or env permission",
  permissions: { read: false, write: false, net: false, run: false, env: false, ffi: false, sys: false },
  fn() {
    for (const kind of JOB_KINDS) {
      const plan = planJob(parseJobSpec(kind, SPECS[kind]));
      assert.equal(plan.kind, kind);
      assert.ok(plan.side_effects.length > 0, kind);
      assert.ok(["bytes", "files", "inputs", "steps"].includes(plan.progress_unit), kind);
      assert.equal(typeof plan.metadata["model.name"], "string", kind);
      assert.equal(typeof plan.metadata["model.runtime"], "string", kind);
    }
  },
});

Deno.test("a download's plan: network and writes, bytes, resumable, the model metadata of its ref", () => {
  const plan = planJob(
    parseJobSpec("model-download", { ...SPECS["model-download"], metadata: { team: "x" } }),
  );
  assert.deepEqual(plan.side_effects, ["network", "writes_files"]);
  assert.equal(plan.progress_unit, "bytes");
  assert.equal(plan.resumable, true);
  assert.deepEqual(plan.metadata, {
    "model.name": "Qwen3-0.6B-GGUF",
    "model.source": "hf",
    "model.repoId": "Qwen/Qwen3-0.6B-GGUF",
    "model.revision": "main",
    "model.runtime": "none",
    team: "x",
  });
});

Deno.test("a download of an oci:// reference: its registry, repository and tag as the model metadata", () => {
  const plan = planJob(parseJobSpec("model-download", { ref: "oci://127.0.0.1:5000/ai/smol:q4" }));
  assert.deepEqual(plan.metadata, {
    "model.name": "smol",
    "model.source": "oci",
    "model.repoId": "127.0.0.1:5000/ai/smol",
    "model.revision": "q4",
    "model.runtime": "none",
  });
});

Deno.test("an external command's plan: an external process, stdout and stderr expected", () => {
  const plan = planJob(parseJobSpec("model-external-command", SPECS["model-external-command"]));
  assert.deepEqual(plan.side_effects, ["reads_files", "external_process"]);
  assert.deepEqual(plan.expected_artifacts.map((a) => a.path), ["stdout.txt", "stderr.txt"]);
  assert.equal(plan.metadata["model.runtime"], "external");
  assert.equal(plan.cancellable, true);
});

Deno.test("a batch's progress counts inputs; a materialization's counts files", () => {
  assert.equal(
    planJob(parseJobSpec("model-batch-inference", SPECS["model-batch-inference"])).progress_unit,
    "inputs",
  );
  assert.equal(
    planJob(parseJobSpec("model-materialize-bundle", SPECS["model-materialize-bundle"])).progress_unit,
    "files",
  );
});

Deno.test("a push's plan: network, bytes, cancellable and resumable, the registry named", () => {
  const plan = planJob(parseJobSpec("model-push", SPECS["model-push"]));
  assert.equal(plan.progress_unit, "bytes");
  assert.equal(plan.cancellable, true);
  assert.equal(plan.resumable, true);
  assert.ok(plan.requirements.includes("registry 127.0.0.1:5000"));
  assert.equal((plan.spec as { format?: string }).format, "modelpack");
  assert.equal(plan.metadata["model.target"], "oci://127.0.0.1:5000/m/stories:v1");
  assert.throws(
    () => parseJobSpec("model-push", { model: "m", target: "https://x/m" }),
    /JOB_SPEC_INVALID|oci:/,
  );
});

Deno.test("a spec's reference is parsed by the registry its scheme names in the run's table (lookUpJobRef)", async () => {
  const mirror: Registry = {
    id: "mirror",
    schemes: ["mirror"],
    claims: (ref) => ref.kind === "plugin" && ref.scheme === "mirror",
    resolve: () => Promise.reject(new Error("not resolved when planning")),
  };
  const lookup = (scheme: string) => Promise.resolve(scheme === "mirror" ? mirror : undefined);
  const spec = parseJobSpec("model-download", { ref: "mirror:tiny" });
  const plan = planJob(spec, { ref: await lookUpJobRef(spec, lookup) });
  assert.equal(plan.metadata["model.source"], "plugin");
  assert.equal(plan.metadata["model.name"], "tiny");
  // Without the lookup a registry plugin's SCHEME:REST is not known to be one.
  assert.equal(planJob(spec).metadata["model.source"], "name");
  const hf = parseJobSpec("model-download", { ref: "hf:Qwen/Qwen3-0.6B-GGUF:Q8_0" });
  assert.equal(planJob(hf, { ref: await lookUpJobRef(hf, lookup) }).metadata["model.source"], "hf");
  assert.equal(await lookUpJobRef(parseJobSpec("model-push", SPECS["model-push"]), lookup), undefined);
});
