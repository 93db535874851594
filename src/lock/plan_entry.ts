/**
 * The lockfile is the plan: a locked entry converts to the {@link ModelPlan}
 * the download core pulls (every file, with its pin), and a resolved, pinned
 * plan converts to an entry. Request headers (credentials) are never written
 * to the lockfile.
 *
 * @example
 * ```ts
 * const entry = entryFromPlan(pinnedPlan);
 * const plan = planFromEntry(entry); // what `lode sync` pulls, without asking the registry again
 * ```
 * @module
 */
import type { ModelPlan } from "../registry/registry.ts";
import type { LockEntry } from "./lockfile.ts";

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
    files: plan.files.map((f) => ({
      role: f.role,
      filename: f.filename,
      url: f.url,
      ...(f.sha256 !== undefined ? { sha256: f.sha256 } : {}),
      ...(f.sizeBytes !== undefined ? { size: f.sizeBytes } : {}),
    })),
  };
}

/** The plan `lode sync` pulls for `entry`: every file, pinned as locked; no registry is asked. */
export function planFromEntry(entry: LockEntry): ModelPlan {
  return {
    name: entry.name,
    reference: entry.reference,
    source: { registry: entry.registry, repo: entry.repo, revision: entry.revision },
    files: entry.files.map((f) => ({
      role: f.role,
      filename: f.filename,
      url: f.url,
      ...(f.sha256 !== undefined ? { sha256: f.sha256 } : {}),
      ...(f.size !== undefined ? { sizeBytes: f.size } : {}),
    })),
    license: entry.license ?? null,
    format: entry.format ?? "gguf",
    ...(entry.allow_hosts?.length ? { allowHosts: [...entry.allow_hosts] } : {}),
  };
}
