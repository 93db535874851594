/**
 * The trust boundary of `lode sync`: what the store holds for a locked model.
 * A blob lode committed or last verified itself (its verified record matches
 * the file, see `src/store/verified_record.ts`) is trusted without reading
 * it; any other blob — a cache restore, a copy, a file changed since — is
 * re-hashed under its blob lock, and bad bytes go to quarantine.
 * @module
 */
import { LodeError } from "../errors.ts";
import { checkBlob } from "../store/verify_model.ts";
import { exists, type LockWaitOptions, type ModelStore } from "../store/model_store.ts";
import { manifestBlobs } from "../store/manifest_blobs.ts";
import { isVerifiedByLode } from "../store/verified_record.ts";
import type { LockEntry } from "./lockfile.ts";

/** What one locked blob is in the store. */
export interface BlobState {
  sha256: string;
  /** `trusted`: written or last verified by lode, not re-read; `verified`: re-hashed now and good. */
  status: "trusted" | "verified" | "corrupt" | "missing";
  /** The size on disk (good blobs only). */
  sizeBytes: number | null;
  /** Bytes re-hashed for this check (0 when trusted or missing). */
  hashedBytes: number;
  ms: number;
  quarantinePath?: string;
}

/** Checks committed blob `hex`: trusted by its verified record, else re-hashed (bad bytes quarantined). */
export async function checkLockedBlob(
  store: ModelStore,
  hex: string,
  options: { name?: string; lock?: LockWaitOptions; now?: () => number } = {},
): Promise<BlobState> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const done = (state: Omit<BlobState, "sha256" | "ms">): BlobState => ({
    sha256: hex,
    ...state,
    ms: Math.round((now() - started) * 10) / 10,
  });
  const path = store.layout.blobPath(hex);
  if (await isVerifiedByLode(store.layout, hex)) {
    return done({ status: "trusted", sizeBytes: (await Deno.stat(path)).size, hashedBytes: 0 });
  }
  if (!(await exists(path))) return done({ status: "missing", sizeBytes: null, hashedBytes: 0 });
  await using _blobLock = await store.lockBlob(hex, options.lock);
  const size = await Deno.stat(path).then((s) => s.size, () => null);
  const check = await checkBlob(store, hex, { name: options.name });
  if (check.ok) return done({ status: "verified", sizeBytes: size, hashedBytes: size ?? 0 });
  if (check.actual === null) return done({ status: "missing", sizeBytes: null, hashedBytes: 0 });
  return done({
    status: "corrupt",
    sizeBytes: null,
    hashedBytes: size ?? 0,
    ...(check.quarantinePath ? { quarantinePath: check.quarantinePath } : {}),
  });
}

/** True when the store's manifest of `entry.name` names exactly the entry's pinned blobs. */
export async function manifestMatches(store: ModelStore, entry: LockEntry): Promise<boolean> {
  let have: Set<string>;
  try {
    const manifest = await store.readManifest(entry.name);
    if (!manifest) return false;
    have = new Set(manifestBlobs(manifest));
  } catch (e) {
    // A manifest that no longer parses (or names a bad blob) is rewritten by the pull.
    if (e instanceof LodeError && e.code === "MANIFEST_INVALID") return false;
    throw e;
  }
  const want = new Set(entry.files.map((f) => f.sha256));
  return have.size === want.size && [...want].every((hex) => hex !== undefined && have.has(hex));
}
