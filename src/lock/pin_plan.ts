/**
 * `lode lock add`: a resolved plan becomes a lock entry with every file
 * pinned. A registry that knows each file's sha256 and size (Hugging Face)
 * needs no download; a file missing either (a plain https URL) is pulled
 * into the store, which computes and verifies them, and the pins come from
 * the store's manifest.
 * @module
 */
import type { ModelPlan } from "../registry/registry.ts";
import type { ModelStore } from "../store/model_store.ts";
import type { LockEntry } from "./lockfile.ts";
import { unpinnedFiles } from "./lockfile.ts";
import { entryFromPlan, pinFromManifest } from "./plan_entry.ts";

/** Effects of {@link pinPlan}. */
export interface PinPlanOptions {
  store: ModelStore;
  /** Pulls a plan into the store; `cached` when nothing was downloaded. */
  pull(plan: ModelPlan): Promise<{ cached: boolean }>;
}

/** The pinned entry of `plan`, and whether bytes had to be downloaded to pin it. */
export async function pinPlan(
  plan: ModelPlan,
  options: PinPlanOptions,
): Promise<{ entry: LockEntry; downloaded: boolean }> {
  const entry = entryFromPlan(plan);
  if (unpinnedFiles(entry).length === 0) return { entry, downloaded: false };
  const result = await options.pull(plan);
  const manifest = await options.store.getManifest(plan.name);
  return { entry: pinFromManifest(entry, manifest), downloaded: !result.cached };
}
