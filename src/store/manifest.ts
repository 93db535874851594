/**
 * The model manifest, `manifests/<name>.json`, schema version 1.
 * Multi-file models add an optional `files` list; a single-file manifest has
 * only the version-1 fields, so other tools that share the store
 * (docs/store.md) read it.
 *
 * @example
 * ```ts
 * const path = "/srv/models/manifests/stories260K.json";
 * const m = parseManifest(await Deno.readTextFile(path), path);
 * console.log(m.blob); // "sha256:…"
 * ```
 * @module
 */
import { z } from "zod";
import { checkSchema, parseJson } from "../schema/schema_error.ts";

export const ManifestSource = z.object({
  registry: z.string(),
  repo: z.string(),
  revision: z.string(),
  filename: z.string(),
  /** lode: the URL the bytes came from, when they came over the network. */
  url: z.string().optional(),
});
export type ManifestSource = z.infer<typeof ManifestSource>;

export const ManifestFile = z.object({
  role: z.string(),
  filename: z.string(),
  blob: z.string().regex(/^sha256:[0-9a-f]{64}$/, "must be sha256:<64 lowercase hex digits>"),
  size_bytes: z.number().int().nonnegative(),
  /** lode: where this file's bytes came from (a re-pull by name fetches it from there). */
  url: z.string().optional(),
});
export type ManifestFile = z.infer<typeof ManifestFile>;

/**
 * The roles of a model's text files (its license, its chat template — Jinja, or Ollama's Go template):
 * kept beside its GGUF files, never read as GGUF. Every other role (`model`, `shard`, `mmproj`, …) is a
 * file of the model's format.
 */
export const TEXT_FILE_ROLES: ReadonlySet<string> = new Set(["license", "chat_template", "ollama_template"]);

/** True when a file of `role` is one of the model's text files ({@link TEXT_FILE_ROLES}). */
export function isTextRole(role: string): boolean {
  return TEXT_FILE_ROLES.has(role);
}

export const Manifest = z.object({
  schema_version: z.literal(1),
  name: z.string().min(1),
  format: z.string(),
  blob: z.string().regex(/^sha256:[0-9a-f]{64}$/, "must be sha256:<64 lowercase hex digits>"),
  size_bytes: z.number().int().nonnegative(),
  license: z.string().nullable().optional(),
  source: ManifestSource,
  produced_by: z.string(),
  produced_at: z.string(),
  /** lode: false when the sha256 was computed on download rather than checked against a pin. */
  pinned: z.boolean().optional(),
  /**
   * Every file of a multi-file model (split shards, mmproj, the license and chat template of an OCI
   * artifact: {@link TEXT_FILE_ROLES}), the primary one (`blob`) first.
   */
  files: z.array(ManifestFile).optional(),
});
export type Manifest = z.infer<typeof Manifest>;

/** Parses and validates manifest text; `MANIFEST_INVALID` names the file, the line, the field, what was expected and found. */
export function parseManifest(text: string, path: string): Manifest {
  return parseJson(Manifest, text, { code: "MANIFEST_INVALID", subject: `manifest ${path}`, file: path });
}

/** Stable, human-readable serialisation (2-space JSON, trailing newline). */
export function serializeManifest(manifest: Manifest): string {
  const checked = checkSchema(Manifest, manifest, {
    code: "MANIFEST_INVALID",
    subject: `the manifest of "${manifest.name}" to write`,
  });
  return JSON.stringify(checked, null, 2) + "\n";
}

/**
 * The name of a single-file model's file as its source named it (`source.filename`'s last segment), for a
 * `path` that does not end in it — the file's blob, `…/data`. Undefined for a model of several files (its
 * path is a link with the file's own name) or a path that is not a blob's.
 *
 * @example
 * ```ts
 * import { ownFileName, parseManifest } from "./manifest.ts";
 * declare const text: string;
 * const manifest = parseManifest(text, "models/parrot.json");
 * console.log(ownFileName(manifest, "/store/blobs/sha256/ab/ab12…/data")); // e.g. "parrot.words"
 * ```
 */
export function ownFileName(manifest: Manifest, path: string): string | undefined {
  if ((manifest.files?.length ?? 0) > 1 || !path.endsWith("/data")) return undefined;
  const name = manifest.source.filename;
  return name.slice(name.lastIndexOf("/") + 1) || undefined;
}
