/**
 * Re-verifying a stored model: re-hash its blob (every blob, for a model of
 * several files) and compare with the manifest.
 * A mismatch moves the blob to quarantine (the manifest stays, so the next
 * `lode pull NAME` repairs it). A model of format `gguf` whose bytes hash right
 * but are not a well-formed GGUF file (`well_formed.ts`; stored by an older lode)
 * is reported as `GGUF_INVALID` and left as it is: pulling it again would bring
 * the same bytes, so the remedy is `lode rm`.
 *
 * @example
 * ```ts
 * import { ModelStore } from "./model_store.ts";
 * const store = await ModelStore.open("/srv/models");
 * const r = await verifyModel(store, "stories260K");
 * if (!r.ok) console.log(r.problem, r.quarantinePath);
 * ```
 * @module
 */
import { digestsEqual, sha256File } from "./hash.ts";
import { exists, type ModelStore } from "./model_store.ts";
import { blobHex, manifestBlobs } from "./manifest_blobs.ts";
import { isTextRole } from "./manifest.ts";
import { quarantineFile } from "./quarantine.ts";
import { forgetVerified, recordVerified } from "./verified_record.ts";
import { GGUF_FORMAT, ggufProblem } from "./well_formed.ts";

/** The check of one blob of a model. */
export interface BlobVerify {
  ok: boolean;
  expected: string;
  actual: string | null;
  /** Where the bad bytes went, when they failed. */
  quarantinePath?: string;
  /** `BLOB_MISSING` when the blob is not on disk; `GGUF_INVALID` when its bytes are not a GGUF model. */
  problem?: "BLOB_MISSING" | "DIGEST_MISMATCH" | "GGUF_INVALID";
  /** What is wrong with a `GGUF_INVALID` blob (the GGUF reader's message). */
  reason?: string;
}

/**
 * The result of {@link verifyModel}: the top-level fields describe the first blob that failed (the
 * primary one when all are fine); `files` lists every blob of a model of several files.
 */
export interface VerifyResult extends BlobVerify {
  name: string;
  /** Bytes checked. */
  sizeBytes: number;
  files?: (BlobVerify & { filename: string; role: string })[];
}

/** The outcome of {@link checkBlob}. */
export interface BlobCheck {
  /** False when the blob is missing or its bytes do not hash to its name. */
  ok: boolean;
  /** The digest the bytes have; null when the blob is missing. */
  actual: string | null;
  /** Where bad bytes were moved. */
  quarantinePath?: string;
}

/**
 * Re-hashes the committed blob `hex`; bytes that do not match are moved to quarantine and the
 * blob directory is removed, so the CAS path never holds wrong bytes. Good bytes are recorded as
 * verified (see `verified_record.ts`). The caller holds the blob lock.
 */
export async function checkBlob(
  store: ModelStore,
  hex: string,
  options: { name?: string; onProgress?: (bytes: number) => void; signal?: AbortSignal } = {},
): Promise<BlobCheck> {
  const path = store.layout.blobPath(hex);
  if (!(await exists(path))) return { ok: false, actual: null };
  const actual = await sha256File(path, { onProgress: options.onProgress, signal: options.signal });
  if (digestsEqual(actual, hex)) {
    await recordVerified(store.layout, hex);
    return { ok: true, actual };
  }
  await forgetVerified(store.layout, hex);
  const moved = await quarantineFile(store.layout, path, {
    expected: hex,
    actual,
    source: "store",
    reason: "corrupt_on_disk",
    name: options.name,
  });
  await Deno.remove(store.layout.blobDir(hex), { recursive: true }).catch(() => {});
  return { ok: false, actual, quarantinePath: moved.path };
}

/** Re-hashes every blob of `name`, each under its blob lock. */
export async function verifyModel(
  store: ModelStore,
  name: string,
  options: { onProgress?: (bytes: number) => void } = {},
): Promise<VerifyResult> {
  const manifest = await store.getManifest(name);
  const checks = new Map<string, BlobVerify>();
  let sizeBytes = 0;
  let before = 0;
  // The label a GGUF problem is reported under: the file's name (null: the format is not read).
  const label = (hex: string) => {
    if (manifest.format !== GGUF_FORMAT) return null;
    const named = manifest.files?.filter((f) => f.blob === `sha256:${hex}`) ?? [];
    if (named.length > 0 && named.every((f) => isTextRole(f.role))) return null; // a license, a template
    return named[0]?.filename ?? (manifest.source.filename || name);
  };
  for (const hex of manifestBlobs(manifest)) {
    const check = await verifyBlob(store, hex, {
      name,
      ggufLabel: label(hex),
      onProgress: options.onProgress && ((n) => options.onProgress!(before + n)),
    });
    if (check.ok || check.problem === "GGUF_INVALID") {
      sizeBytes += (await Deno.stat(store.layout.blobPath(hex))).size;
    }
    before = sizeBytes;
    checks.set(hex, check);
  }
  const primary = checks.get(blobHex(manifest))!;
  const first = [...checks.values()].find((c) => !c.ok) ?? primary;
  const files = manifest.files?.map((f) => ({
    filename: f.filename,
    role: f.role,
    ...checks.get(f.blob.slice("sha256:".length))!,
  }));
  return { name, ...first, ok: first.ok, sizeBytes, ...(files ? { files } : {}) };
}

async function verifyBlob(
  store: ModelStore,
  expected: string,
  options: { name: string; ggufLabel: string | null; onProgress?: (bytes: number) => void },
): Promise<BlobVerify> {
  await using _blobLock = await store.lockBlob(expected);
  const check = await checkBlob(store, expected, options);
  if (check.ok) {
    const path = store.layout.blobPath(expected);
    const bad = options.ggufLabel === null ? null : await ggufProblem(path, options.ggufLabel);
    if (bad) {
      return { ok: false, expected, actual: check.actual, problem: "GGUF_INVALID", reason: bad.message };
    }
    return { ok: true, expected, actual: check.actual };
  }
  if (check.actual === null) return { ok: false, expected, actual: null, problem: "BLOB_MISSING" };
  return {
    ok: false,
    expected,
    actual: check.actual,
    quarantinePath: check.quarantinePath,
    problem: "DIGEST_MISMATCH",
  };
}
