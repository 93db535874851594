/**
 * Re-verifying a stored model: re-hash its blob and compare with the manifest.
 * A mismatch moves the blob to quarantine (the manifest stays, so the next
 * `lode pull NAME` repairs it).
 *
 * @example
 * ```ts
 * const r = await verifyModel(store, "stories260K");
 * if (!r.ok) console.log(r.problem, r.quarantinePath);
 * ```
 * @module
 */
import { digestsEqual, sha256File } from "./hash.ts";
import { blobHex, exists, type ModelStore } from "./model_store.ts";
import { quarantineFile } from "./quarantine.ts";

/** The result of {@link verifyModel}. */
export interface VerifyResult {
  name: string;
  ok: boolean;
  expected: string;
  actual: string | null;
  /** Where the bad bytes went, when they failed. */
  quarantinePath?: string;
  /** `BLOB_MISSING` when the manifest's blob is not on disk. */
  problem?: "BLOB_MISSING" | "DIGEST_MISMATCH";
}

/** Re-hashes the blob of `name` under its blob lock. */
export async function verifyModel(
  store: ModelStore,
  name: string,
  options: { onProgress?: (bytes: number) => void } = {},
): Promise<VerifyResult> {
  const manifest = await store.getManifest(name);
  const expected = blobHex(manifest);
  const path = store.layout.blobPath(expected);
  await using _blobLock = await store.lockBlob(expected);
  if (!(await exists(path))) return { name, ok: false, expected, actual: null, problem: "BLOB_MISSING" };
  const actual = await sha256File(path, { onProgress: options.onProgress });
  if (digestsEqual(actual, expected)) return { name, ok: true, expected, actual };
  const moved = await quarantineFile(store.layout, path, {
    expected,
    actual,
    source: "store",
    reason: "corrupt_on_disk",
    name,
  });
  await Deno.remove(store.layout.blobDir(expected), { recursive: true }).catch(() => {});
  return { name, ok: false, expected, actual, quarantinePath: moved.path, problem: "DIGEST_MISMATCH" };
}
