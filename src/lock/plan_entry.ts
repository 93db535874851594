/**
 * The lockfile is the plan: a locked entry converts to the {@link ModelPlan}
 * the download core pulls (every file, with its pin), and a resolved, pinned
 * plan converts to an entry. Request headers (credentials) are never written
 * to the lockfile.
 * @module
 */
import { LodeError } from "../errors.ts";
import type { ModelPlan } from "../registry/registry.ts";
import { blobHex } from "../store/manifest_blobs.ts";
import type { Manifest } from "../store/manifest.ts";
import { parseBlobRef } from "../store/layout.ts";
import { lockedFile, type LockEntry } from "./lockfile.ts";

/** The lock entry of a plan. Files keep the plan's order (`files[0]` is the primary one). */
export function entryFromPlan(plan: ModelPlan): LockEntry {
  return {
    name: plan.name,
    reference: plan.reference,
    registry: plan.source.registry,
    repo: plan.source.repo,
    revision: plan.source.revision,
    format: plan.format ?? "gguf",
    license: plan.license ?? null,
    ...(plan.allowHosts?.length ? { allow_hosts: [...plan.allowHosts] } : {}),
    files: plan.files.map((f) => lockedFile({ ...f, size: f.sizeBytes })),
  };
}

/** The plan `lode sync` pulls for `entry`: every file, pinned as locked; no registry is asked. */
export function planFromEntry(entry: LockEntry): ModelPlan {
  return {
    name: entry.name,
    reference: entry.reference,
    source: { registry: entry.registry, repo: entry.repo, revision: entry.revision },
    files: entry.files.map(({ size, ...f }) => ({
      ...f,
      ...(size !== undefined ? { sizeBytes: size } : {}),
    })),
    license: entry.license ?? null,
    format: entry.format ?? "gguf",
    ...(entry.allow_hosts?.length ? { allowHosts: [...entry.allow_hosts] } : {}),
  };
}

/**
 * `entry` with every file's sha256 and size taken from the store's manifest of the model (after a pull
 * computed them). Files are matched by name; a single-file model uses the manifest's main blob.
 */
export function pinFromManifest(entry: LockEntry, manifest: Manifest): LockEntry {
  const files = entry.files.map((file, i) => {
    const listed = manifest.files?.find((f) => f.filename === file.filename);
    const hex = listed ? parseBlobRef(listed.blob) : i === 0 ? blobHex(manifest) : null;
    const size = listed ? listed.size_bytes : i === 0 ? manifest.size_bytes : undefined;
    if (!hex || size === undefined) {
      throw new LodeError("INTERNAL", `the manifest of "${entry.name}" does not list ${file.filename}`, {
        details: { name: entry.name, filename: file.filename },
      });
    }
    if (file.sha256 !== undefined && file.sha256 !== hex) {
      throw new LodeError("INTERNAL", `the manifest of "${entry.name}" disagrees with its pin`, {
        details: { name: entry.name, filename: file.filename, locked: file.sha256, stored: hex },
      });
    }
    return { ...file, sha256: hex, size };
  });
  return { ...entry, files };
}
