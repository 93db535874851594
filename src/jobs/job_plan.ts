/**
 * The pure plan of a job, made before any work: its side effects, what it requires, the unit its
 * progress counts in, whether it can be cancelled or resumed, the artifacts it is expected to leave,
 * and the model metadata of its spec. Planning reads no file, writes none and opens no socket.
 *
 * @example
 * ```ts
 * import { parseJobSpec } from "./job_spec.ts";
 * import { planJob } from "./job_plan.ts";
 * const plan = planJob(parseJobSpec("model-download", { ref: "hf:Qwen/Qwen3-0.6B-GGUF:Q8_0" }));
 * plan.side_effects; // ["network", "writes_files"]
 * plan.metadata["model.repoId"]; // "Qwen/Qwen3-0.6B-GGUF"
 * ```
 * @module
 */
import { z } from "zod";
import { mayBePluginRef, type ModelRef, parseRef } from "../registry/reference.ts";
import { lookUpReference, type RegistryLookup } from "../registry/registry_lookup.ts";
import { JobSpec } from "./job_spec.ts";

/** What a job may do to the world outside its record. */
export const SideEffect = z.enum([
  "network",
  "reads_files",
  "writes_files",
  "external_process",
  "loads_model",
]);
export type SideEffect = z.infer<typeof SideEffect>;

/** What a job's progress counts. */
export const ProgressUnit = z.enum(["bytes", "files", "inputs", "steps"]);
export type ProgressUnit = z.infer<typeof ProgressUnit>;

/** An artifact a plan expects; `path` is relative to the job's directory, or to the spec's target. */
export const ExpectedArtifact = z.object({
  id: z.string(),
  kind: z.enum(["file", "directory", "json"]),
  media_type: z.string(),
  path: z.string(),
  required: z.boolean(),
});
export type ExpectedArtifact = z.infer<typeof ExpectedArtifact>;

/** The plan of a job. */
export const JobPlan = z.object({
  kind: z.string(),
  title: z.string(),
  spec: JobSpec,
  /** `model.name`, `model.source`, `model.revision`, `model.repoId`, `model.runtime`, then the spec's own. */
  metadata: z.record(z.string(), z.string()),
  side_effects: z.array(SideEffect),
  requirements: z.array(z.string()),
  progress_unit: ProgressUnit,
  cancellable: z.boolean(),
  /** An interrupted job of this kind can run again from its record and continue (`lode job resume`). */
  resumable: z.boolean(),
  expected_artifacts: z.array(ExpectedArtifact),
});
export type JobPlan = z.infer<typeof JobPlan>;

const STDOUT: ExpectedArtifact = {
  id: "stdout",
  kind: "file",
  media_type: "text/plain",
  path: "stdout.txt",
  required: true,
};
const STDERR: ExpectedArtifact = { ...STDOUT, id: "stderr", path: "stderr.txt" };

/** The model metadata of a spec (the plan's `metadata`, before the spec's own entries); `ref` as {@link planJob}'s. */
export function modelMetadata(spec: JobSpec, ref?: ModelRef): Record<string, string> {
  const runtime = spec.kind === "model-external-command"
    ? "external"
    : spec.kind === "model-warmup" || spec.kind === "model-inference" || spec.kind === "model-batch-inference"
    ? "node-llama-cpp"
    : "none";
  const out: Record<string, string> = {};
  if (spec.kind === "model-download" || spec.kind === "lock-add") {
    ref ??= parseJobRef(spec.ref);
    out["model.name"] = spec.name ?? refName(ref);
    out["model.source"] = ref.kind;
    if (ref.kind === "hf") {
      out["model.repoId"] = ref.repo;
      if (ref.revision !== undefined) out["model.revision"] = ref.revision;
    } else if (ref.kind === "oci") {
      out["model.repoId"] = `${ref.host}/${ref.repository}`;
      const revision = ref.digest ?? ref.tag;
      if (revision !== undefined) out["model.revision"] = revision;
    }
  } else if (spec.kind === "model-push") {
    out["model.name"] = spec.model;
    out["model.source"] = "store";
    out["model.target"] = spec.target;
  } else if (spec.kind === "sync") {
    out["model.name"] = spec.names.join(",") || "*";
    out["model.source"] = "lockfile";
  } else {
    out["model.name"] = spec.model;
    out["model.source"] = "store";
  }
  out["model.runtime"] = runtime;
  return out;
}

/**
 * The reference of a spec that names one (`model-download`, `lock-add`), parsed by the grammar of the
 * registry its scheme names in the run's table, as the CLI parses a reference (registry_lookup.ts):
 * `mirror:tiny` is a registry plugin's when one claims `mirror`. For {@link planJob}'s `ref`.
 */
export async function lookUpJobRef(spec: JobSpec, lookup?: RegistryLookup): Promise<ModelRef | undefined> {
  if (spec.kind !== "model-download" && spec.kind !== "lock-add") return undefined;
  return (await lookUpReference(spec.ref, lookup)).ref;
}

/**
 * A spec's reference when no {@link lookUpJobRef} was given, parsed without knowing the registry plugins:
 * `SCHEME://…` of a scheme lode does not know is taken as a plugin's, resolved (or refused) when the job runs.
 */
function parseJobRef(text: string): ReturnType<typeof parseRef> {
  const scheme = /^\s*([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1];
  return parseRef(text, scheme !== undefined && mayBePluginRef(text) ? { schemes: [scheme] } : {});
}

function refName(ref: ReturnType<typeof parseRef>): string {
  switch (ref.kind) {
    case "name":
      return ref.name;
    case "url":
      return ref.filename.replace(/\.gguf$/i, "");
    case "file":
      return ref.path.slice(ref.path.lastIndexOf("/") + 1).replace(/\.gguf$/i, "");
    case "hf":
      return ref.repo.slice(ref.repo.indexOf("/") + 1);
    case "plugin":
      return ref.body;
    case "oci":
      return ref.repository.slice(ref.repository.lastIndexOf("/") + 1);
  }
}

/** Options of {@link planJob}. */
export interface PlanOptions {
  /** The spec's reference as {@link lookUpJobRef} parsed it (default: parsed without the registry plugins). */
  ref?: ModelRef;
}

/** Plans `spec`: no file read or written, no socket opened. */
export function planJob(spec: JobSpec, options: PlanOptions = {}): JobPlan {
  const metadata = { ...modelMetadata(spec, options.ref), ...(spec.metadata ?? {}) };
  const base = { kind: spec.kind, title: `${spec.kind} ${metadata["model.name"]}`, spec, metadata };
  switch (spec.kind) {
    case "model-download":
      return {
        ...base,
        side_effects: ["network", "writes_files"],
        requirements: ["store", "network"],
        progress_unit: "bytes",
        cancellable: true,
        resumable: true,
        expected_artifacts: [manifestArtifact()],
      };
    case "model-materialize-bundle":
      return {
        ...base,
        side_effects: ["reads_files", "writes_files"],
        requirements: ["store", `model ${spec.model} in the store`],
        progress_unit: "files",
        cancellable: true,
        resumable: false,
        expected_artifacts: [{
          id: "bundle",
          kind: "directory",
          media_type: "inode/directory",
          path: spec.target,
          required: true,
        }],
      };
    case "model-validate-bundle":
      return {
        ...base,
        side_effects: ["reads_files"],
        requirements: ["store", `model ${spec.model} in the store`],
        progress_unit: "bytes",
        cancellable: true,
        resumable: false,
        expected_artifacts: [manifestArtifact()],
      };
    case "model-warmup":
      return {
        ...base,
        side_effects: ["reads_files", "loads_model"],
        requirements: [
          "store",
          `model ${spec.model} in the store`,
          "a daemon serving the store (lode serve)",
        ],
        progress_unit: "steps",
        cancellable: true,
        resumable: false,
        expected_artifacts: [],
      };
    case "model-inference":
      return {
        ...base,
        side_effects: ["reads_files", "writes_files", "loads_model"],
        requirements: ["store", `model ${spec.model} in the store`, "backend node-llama-cpp"],
        progress_unit: "steps",
        cancellable: true,
        resumable: false,
        expected_artifacts: [{
          id: "output",
          kind: "file",
          media_type: "text/plain",
          path: "output.txt",
          required: true,
        }],
      };
    case "model-batch-inference":
      return {
        ...base,
        side_effects: ["reads_files", "writes_files", "loads_model"],
        requirements: [
          "store",
          `model ${spec.model} in the store`,
          "backend node-llama-cpp",
          `file ${spec.inputs}`,
        ],
        progress_unit: "inputs",
        cancellable: true,
        resumable: true, // the answers written are kept and skipped
        expected_artifacts: [{ ...outputArtifact(spec.output), media_type: "application/x-ndjson" }],
      };
    case "model-external-command":
      return {
        ...base,
        side_effects: ["reads_files", "external_process"],
        requirements: ["store", `model ${spec.model} in the store`, `program ${spec.command}`],
        progress_unit: "steps",
        cancellable: true,
        resumable: false,
        expected_artifacts: [STDOUT, STDERR],
      };
    case "lock-add":
      return {
        ...base,
        side_effects: ["network", "reads_files", "writes_files"],
        requirements: ["store", "network", `lockfile ${spec.lockfile ?? "lode.lock"}`],
        progress_unit: "bytes",
        cancellable: true,
        resumable: true,
        expected_artifacts: [lockfileArtifact(spec.lockfile)],
      };
    case "sync":
      return {
        ...base,
        side_effects: ["network", "reads_files", "writes_files"],
        requirements: ["store", `lockfile ${spec.lockfile ?? "lode.lock"}`],
        progress_unit: "bytes",
        cancellable: true,
        resumable: true,
        expected_artifacts: [lockfileArtifact(spec.lockfile)],
      };
    case "model-push":
      return {
        ...base,
        side_effects: ["network", "reads_files", "writes_files"],
        requirements: [
          "store",
          `model ${spec.model} in the store`,
          "network",
          `registry ${registryOf(spec.target)}`,
        ],
        progress_unit: "bytes",
        cancellable: true,
        resumable: true,
        expected_artifacts: [],
      };
  }
}

/** `HOST[:PORT]` of an `oci://` target. */
function registryOf(target: string): string {
  return target.slice("oci://".length).split("/")[0]!;
}

function manifestArtifact(): ExpectedArtifact {
  return {
    id: "manifest",
    kind: "json",
    media_type: "application/json",
    path: "manifest.json",
    required: true,
  };
}

function outputArtifact(path: string): ExpectedArtifact {
  return { id: "output", kind: "json", media_type: "application/json", path, required: true };
}

/** The lockfile a lock-add or sync job writes. */
function lockfileArtifact(lockfile: string | undefined): ExpectedArtifact {
  return {
    id: "lockfile",
    kind: "file",
    media_type: "application/json",
    path: lockfile ?? "lode.lock",
    required: true,
  };
}
