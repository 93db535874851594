/**
 * Job kinds and their specs: the stable kind strings, one zod schema per kind, and the model metadata
 * every spec carries (`model.name`, `model.source`, `model.revision`, `model.repoId`, `model.runtime`).
 * A path in a spec is relative, never absolute and without a `..` segment (`JOB_SPEC_INVALID`
 * otherwise); it is resolved against the directory the job runs in, which the record keeps.
 *
 * @example
 * ```ts
 * import { parseJobSpec } from "./job_spec.ts";
 * const spec = parseJobSpec("model-validate-bundle", { model: "stories260K" });
 * spec.kind; // "model-validate-bundle"
 * ```
 * @module
 */
import { z } from "zod";
import { LodeError } from "../errors.ts";
import { checkSchema } from "../schema/schema_error.ts";

/** Every job kind, by its stable string. */
export const JOB_KINDS = [
  "model-download",
  "model-materialize-bundle",
  "model-validate-bundle",
  "model-warmup",
  "model-inference",
  "model-batch-inference",
  "model-external-command",
  "lock-add",
  "sync",
  "model-push",
] as const;

/** A job kind. */
export type JobKind = typeof JOB_KINDS[number];

/** True when `kind` is one of {@link JOB_KINDS}. */
export function isJobKind(kind: string): kind is JobKind {
  return (JOB_KINDS as readonly string[]).includes(kind);
}

/** The problem with `path` as a spec path, or null when it is relative and stays below its base. */
export function specPathProblem(path: string): string | null {
  if (path.trim() === "") return "must not be empty";
  if (path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path)) {
    return "must be a relative path, not an absolute one";
  }
  if (path.split(/[\\/]/).includes("..")) return "must not contain a `..` segment";
  return null;
}

/** A relative path without `..`. */
const RelPath = z.string().superRefine((p, ctx) => {
  const problem = specPathProblem(p);
  if (problem !== null) ctx.addIssue({ code: "custom", message: `a relative path (${problem})` });
});

/** A program: a name looked up on PATH, or a relative path (with a `/`) from the job's directory. */
const Program = z.string().min(1).superRefine((p, ctx) => {
  if (!p.includes("/") && !p.includes("\\")) return;
  const problem = specPathProblem(p);
  if (problem !== null) {
    ctx.addIssue({ code: "custom", message: `a program name or relative path (${problem})` });
  }
});

/** Caller-defined metadata, added to the model metadata of the plan. */
const Metadata = z.record(z.string(), z.string()).optional();

const ModelName = z.string().min(1);

export const DownloadSpec = z.object({
  kind: z.literal("model-download"),
  /** A reference as `lode pull` takes it. */
  ref: z.string().min(1),
  name: z.string().min(1).optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  metadata: Metadata,
}).strict();

export const MaterializeSpec = z.object({
  kind: z.literal("model-materialize-bundle"),
  model: ModelName,
  /** The directory the model's files are laid out in, under their original names. */
  target: RelPath,
  /** `symlink` (default) links to the store's blobs; `copy` writes the bytes. */
  mode: z.enum(["symlink", "copy"]).default("symlink"),
  metadata: Metadata,
}).strict();

export const ValidateSpec = z.object({
  kind: z.literal("model-validate-bundle"),
  model: ModelName,
  metadata: Metadata,
}).strict();

export const WarmupSpec = z.object({
  kind: z.literal("model-warmup"),
  model: ModelName,
  context_size: z.number().int().positive().optional(),
  metadata: Metadata,
}).strict();

export const InferenceSpec = z.object({
  kind: z.literal("model-inference"),
  model: ModelName,
  prompt: z.string(),
  max_tokens: z.number().int().positive().optional(),
  metadata: Metadata,
}).strict();

export const BatchInferenceSpec = z.object({
  kind: z.literal("model-batch-inference"),
  model: ModelName,
  /** A JSONL file of inputs, one request a line. */
  inputs: RelPath,
  /** Where the outputs go (JSONL). */
  output: RelPath,
  /** Where failed requests' lines go (JSONL); default: beside `output`, `.errors` before its extension. */
  errors: RelPath.optional(),
  /** Requests decoded at once as sequences of one context. */
  parallel: z.number().int().positive().max(64).optional(),
  /** Tokens of context each request gets (prompt and answer); default 2048. */
  context_size: z.number().int().positive().optional(),
  /** Start over, discarding answers already written. */
  restart: z.boolean().optional(),
  /** Run again only the requests whose answer was an error. */
  retry_errors: z.boolean().optional(),
  metadata: Metadata,
}).strict();

export const ExternalCommandSpec = z.object({
  kind: z.literal("model-external-command"),
  model: ModelName,
  command: Program,
  /** Arguments; `{model}` in one is replaced with the model's path (also in `$LODE_MODEL_PATH`). */
  args: z.array(z.string()).default([]),
  /** The program's working directory, relative to the job's. */
  cwd: RelPath.optional(),
  env: z.record(z.string(), z.string()).optional(),
  metadata: Metadata,
}).strict();

export const LockAddSpec = z.object({
  kind: z.literal("lock-add"),
  ref: z.string().min(1),
  name: z.string().min(1).optional(),
  lockfile: RelPath.optional(),
  metadata: Metadata,
}).strict();

export const SyncSpec = z.object({
  kind: z.literal("sync"),
  names: z.array(z.string().min(1)).default([]),
  frozen: z.boolean().default(false),
  lockfile: RelPath.optional(),
  metadata: Metadata,
}).strict();

export const PushSpec = z.object({
  kind: z.literal("model-push"),
  model: ModelName,
  /** `oci://HOST[:PORT]/REPO:TAG`, as `lode push` takes it. */
  target: z.string().regex(/^oci:\/\/[^/]+\/./, "oci://HOST[:PORT]/REPO:TAG"),
  /** The artifact's shape: CNCF ModelPack (the default) or Docker Model Runner's. */
  format: z.enum(["modelpack", "docker"]).default("modelpack"),
  metadata: Metadata,
}).strict();

/** A job spec: what to do, one schema per kind. */
export const JobSpec = z.discriminatedUnion("kind", [
  DownloadSpec,
  MaterializeSpec,
  ValidateSpec,
  WarmupSpec,
  InferenceSpec,
  BatchInferenceSpec,
  ExternalCommandSpec,
  LockAddSpec,
  SyncSpec,
  PushSpec,
]);
export type JobSpec = z.infer<typeof JobSpec>;

/** The spec of one kind. */
export type SpecOf<K extends JobKind> = Extract<JobSpec, { kind: K }>;

/**
 * Checks `raw` (the spec object, with or without its `kind`) as a spec of `kind`:
 * `JOB_KIND_UNKNOWN` for an unknown kind, `JOB_SPEC_INVALID` naming the field for a bad spec.
 */
export function parseJobSpec(kind: string, raw: unknown): JobSpec {
  if (!isJobKind(kind)) {
    throw new LodeError("JOB_KIND_UNKNOWN", `unknown job kind "${kind}"`, {
      details: { kind, kinds: [...JOB_KINDS] },
    });
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new LodeError("JOB_SPEC_INVALID", `the spec of a ${kind} job must be a JSON object`, {
      details: { kind },
    });
  }
  const given = (raw as { kind?: unknown }).kind;
  if (given !== undefined && given !== kind) {
    throw new LodeError("JOB_SPEC_INVALID", `the spec says kind "${String(given)}", the job is ${kind}`, {
      details: { kind, spec_kind: given },
    });
  }
  return checkSchema(JobSpec, { ...raw, kind }, {
    code: "JOB_SPEC_INVALID",
    subject: `the spec of a ${kind} job`,
  });
}
