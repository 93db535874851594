/**
 * `lode lock add`: a resolved plan becomes a lock entry with every file
 * pinned. A registry that knows each file's sha256 and size (Hugging Face)
 * needs no download; a file missing either (a plain https URL) is pulled
 * into the store, which computes and verifies them, and the pins come from
 * the store's manifest. {@link pinToLockfile} is the whole of `lode lock add` (and of a lock-add job):
 * read the lockfile, resolve, pin, write.
 * @module
 */
import type { ModelPlan } from "../registry/registry.ts";
import type { ModelStore } from "../store/model_store.ts";
import {
  emptyLockfile,
  findEntry,
  type LockEntry,
  readLockfileIfPresent,
  unpinnedFiles,
  withEntry,
  writeLockfile,
} from "./lockfile.ts";
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

/** Effects of {@link pinToLockfile}: the resolution of a reference and the pull of a plan (a command's, a job's). */
export interface PinToLockfileOptions extends PinPlanOptions {
  resolve(ref: string, options: { name?: string }): Promise<ModelPlan>;
  /** Model name instead of the one the registry derives (`--name`). */
  name?: string;
  /** Checked before the lockfile is written: a cancelled pin leaves it as it was. */
  signal?: AbortSignal;
}

/** What {@link pinToLockfile} wrote. */
export interface PinnedInLockfile {
  lockfile: string;
  entry: LockEntry;
  /** An entry of the same name was there before. */
  replaced: boolean;
  downloaded: boolean;
}

/**
 * `lode lock add REF`: reads the lockfile at `path` (a missing one is empty; a malformed one fails before
 * anything is downloaded), resolves `ref`, pins it ({@link pinPlan}) and writes the lockfile with its entry.
 */
export async function pinToLockfile(
  path: string,
  ref: string,
  options: PinToLockfileOptions,
): Promise<PinnedInLockfile> {
  const lock = (await readLockfileIfPresent(path)) ?? emptyLockfile();
  const plan = await options.resolve(ref, options.name === undefined ? {} : { name: options.name });
  const { entry, downloaded } = await pinPlan(plan, options);
  options.signal?.throwIfAborted();
  const replaced = findEntry(lock, entry.name) !== undefined;
  await writeLockfile(path, withEntry(lock, entry));
  return { lockfile: path, entry, replaced, downloaded };
}
