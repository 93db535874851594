/**
 * Pull one model — one file or several (split shards, an mmproj) — into the
 * store:
 *
 * 1. manifest + every blob present? done (no network);
 * 2. take the per-name lock (waiting, and saying so), re-check;
 * 3. fetch every file concurrently under the context's one connection budget
 *    ({@link fetchBlob}: blob lock, reuse or quarantine what is there, stream
 *    while hashing, constant-time compare, atomic rename into the CAS);
 * 4. any required file failed → throw (no manifest; the files that did finish
 *    stay in the store as blobs, so the next pull only fetches the rest). An
 *    optional file (an mmproj) that failed is left out;
 * 5. take every blob's lock (in digest order), check they are all there, and
 *    write the manifest last: `blob`/`size_bytes` name the primary file, and a
 *    model of several files also lists them all in `files`.
 *
 * @example
 * ```ts
 * import { pullFiles } from "./pull_model.ts";
 * import { HostPolicy } from "./host_policy.ts";
 * import { ModelStore } from "../store/model_store.ts";
 * const store = await ModelStore.open("/tmp/models");
 * const url = "https://127.0.0.1:8443/stories.gguf";
 * const result = await pullFiles({
 *   name: "stories",
 *   files: [{ role: "model", filename: "stories.gguf", url, sha256: "270cba1b…" }],
 *   source: { registry: "url", repo: "127.0.0.1:8443", revision: "", filename: "stories.gguf", url },
 * }, { store, policy: new HostPolicy().with([url]), emit: console.log });
 * console.log(result.path);
 * ```
 * @module
 */
import { LodeError, toLodeError } from "../errors.ts";
import { toMb } from "../events/download_event.ts";
import { digestsEqual } from "../store/hash.ts";
import type { FileLock } from "../store/file_lock.ts";
import { formatBlobRef, parseBlobRef } from "../store/layout.ts";
import type { Manifest, ManifestSource } from "../store/manifest.ts";
import type { ModelStore } from "../store/model_store.ts";
import { emitCompleted, fetchBlob, type FetchedBlob, type PullFile } from "./fetch_blob.ts";
import type { PullContext } from "./pull_context.ts";

/** A pinned download plan of a model of one or more files; `files[0]` is the primary one. */
export interface PullFilesPlan {
  name: string;
  files: PullFile[];
  /** Recorded in the manifest; `filename` and `url` are the primary file's. */
  source: ManifestSource;
  license?: string | null;
  format?: string;
  /** The hint of the `ACCESS_DENIED` error a 401/403 of a download becomes (what to do about it). */
  accessHint?: string;
}

/** One file of a pull's result. */
export type PulledFile = Omit<FetchedBlob, "url">;

/** What a pull produced. */
export interface PullResult {
  name: string;
  /** SHA-256 of the primary file. */
  sha256: string;
  /** The file to load: the primary blob, or (several files) its link beside its siblings. */
  path: string;
  /** Bytes of every file of the model. */
  sizeBytes: number;
  /** True when nothing was downloaded. */
  cached: boolean;
  /** True when every file's SHA-256 was known in advance and checked. */
  pinned: boolean;
  /** Every file in the manifest, primary first. */
  files: PulledFile[];
}

/** Pulls every file of `plan` and writes one manifest last. Emits download events; `failed` before throwing. */
export async function pullFiles(plan: PullFilesPlan, ctx: PullContext): Promise<PullResult> {
  const emit = ctx.emit ?? (() => {});
  const sizes = plan.files.map((f) => f.sizeBytes);
  const known = sizes.every((s) => s !== undefined);
  const total = sizes.reduce<number>((a, s) => a + (s ?? 0), 0);
  emit({
    event: "started",
    model: plan.name,
    total_files: plan.files.length,
    total_mb: toMb(total),
    total_bytes: known ? total : null,
  });
  try {
    if (plan.files.length === 0) throw new LodeError("INTERNAL", `plan of ${plan.name} has no files`);
    const result = await pullLocked(plan, ctx);
    emit({
      event: "completed",
      model: plan.name,
      blob: formatBlobRef(result.sha256),
      path: result.path,
      size_bytes: result.sizeBytes,
      pinned: result.pinned,
    });
    return result;
  } catch (e) {
    const error = toLodeError(e);
    emit({ event: "failed", model: plan.name, ...error.toJSON() });
    throw error;
  }
}

async function pullLocked(plan: PullFilesPlan, ctx: PullContext): Promise<PullResult> {
  const { store } = ctx;
  const fast = await lookInStore(plan, ctx);
  if (fast.present) return await cached(plan, ctx, fast.manifest!, fast.present);

  await using _nameLock = await store.lockName(plan.name, ctx.lock);
  const again = await lookInStore(plan, ctx);
  if (again.present) return await cached(plan, ctx, again.manifest!, again.present);

  const trusted = new Set(again.manifest ? manifestFiles(again.manifest).map((f) => f.hex) : []);
  const settled = await Promise.allSettled(
    plan.files.map((file, i) =>
      fetchBlob(file, ctx, { model: plan.name, index: i + 1, totalFiles: plan.files.length, trusted })
        .catch((e) => {
          throw refused(toLodeError(e), file, plan);
        })
    ),
  );
  const fetched: FetchedBlob[] = [];
  settled.forEach((s, i) => {
    if (s.status === "fulfilled") fetched.push(s.value);
    else if (!plan.files[i]!.optional) throw s.reason;
  });
  if (fetched[0]?.filename !== plan.files[0]!.filename) {
    throw new LodeError("INTERNAL", `the primary file of ${plan.name} is missing from its pull`);
  }
  return await writeManifest(plan, ctx, fetched);
}

/** A 401/403 of a download, with the registry's advice, becomes `ACCESS_DENIED`. */
function refused(error: LodeError, file: PullFile, plan: PullFilesPlan): LodeError {
  const status = Number(error.details.status);
  if (error.code !== "HTTP_STATUS" || (status !== 401 && status !== 403) || !plan.accessHint) return error;
  return new LodeError(
    "ACCESS_DENIED",
    `the origin refused the download of ${file.filename} (HTTP ${status})`,
    {
      details: { ...error.details, filename: file.filename },
      hint: plan.accessHint,
      cause: error,
    },
  );
}

/** Writes the manifest under every blob's lock (digest order), after checking the blobs are all there. */
async function writeManifest(
  plan: PullFilesPlan,
  ctx: PullContext,
  fetched: FetchedBlob[],
): Promise<PullResult> {
  const { store } = ctx;
  const hexes = [...new Set(fetched.map((f) => f.sha256))].sort();
  const locks: FileLock[] = [];
  try {
    for (const hex of hexes) locks.push(await store.lockBlob(hex, ctx.lock));
    for (const hex of hexes) {
      if (!(await store.hasBlob(hex))) {
        throw new LodeError(
          "BLOB_MISSING",
          `blob ${hex.slice(0, 12)}… of ${plan.name} was removed during the pull`,
          {
            details: { name: plan.name, blob: formatBlobRef(hex) },
            hint: "Another process removed it (lode rm, gc); run the pull again.",
          },
        );
      }
    }
    const [primary] = fetched as [FetchedBlob];
    const pinned = fetched.every((f) => f.pinned);
    const manifest = await store.writeManifest(
      {
        name: plan.name,
        format: plan.format,
        license: plan.license,
        source: { ...plan.source, filename: primary.filename, url: primary.url },
        pinned,
        files: plan.files.length > 1
          ? fetched.map((f) => ({
            role: f.role,
            filename: f.filename,
            blob: formatBlobRef(f.sha256),
            size_bytes: f.sizeBytes,
            url: f.url,
          }))
          : undefined,
      },
      primary.sha256,
      primary.sizeBytes,
    );
    return await result(plan, ctx, manifest, fetched);
  } finally {
    for (const lock of locks.reverse()) await lock.release();
  }
}

async function result(
  plan: PullFilesPlan,
  ctx: PullContext,
  manifest: Manifest,
  fetched: FetchedBlob[],
): Promise<PullResult> {
  const [primary] = fetched as [FetchedBlob];
  return {
    name: plan.name,
    sha256: primary.sha256,
    path: await ctx.store.modelPath(manifest),
    sizeBytes: fetched.reduce((a, f) => a + f.sizeBytes, 0),
    cached: fetched.every((f) => f.cached),
    pinned: fetched.every((f) => f.pinned),
    files: fetched.map(({ url: _url, ...f }) => f),
  };
}

interface ManifestFileRef {
  role: string;
  filename: string;
  hex: string;
  sizeBytes: number;
  url?: string;
}

function manifestFiles(m: Manifest): ManifestFileRef[] {
  if (m.files?.length) {
    return m.files.flatMap((f) => {
      const hex = parseBlobRef(f.blob);
      return hex ? [{ role: f.role, filename: f.filename, hex, sizeBytes: f.size_bytes, url: f.url }] : [];
    });
  }
  const hex = parseBlobRef(m.blob);
  const filename = m.source.filename;
  return hex ? [{ role: "model", filename, hex, sizeBytes: m.size_bytes, url: m.source.url }] : [];
}

async function readManifestOrNull(store: ModelStore, name: string): Promise<Manifest | null> {
  return await store.readManifest(name).catch((e) => {
    // A malformed manifest is rewritten by this pull rather than blocking it.
    if (e instanceof LodeError && e.code === "MANIFEST_INVALID") return null;
    throw e;
  });
}

/**
 * The model's current manifest, and — when every planned blob is already there (matching the pins) —
 * those blobs: the no-network fast path.
 */
async function lookInStore(
  plan: PullFilesPlan,
  ctx: PullContext,
): Promise<{ manifest: Manifest | null; present: FetchedBlob[] | null }> {
  const [first] = plan.files as [PullFile];
  const path = first.sha256
    ? ctx.store.layout.blobPath(first.sha256.toLowerCase())
    : ctx.store.layout.manifestPath(plan.name);
  ctx.emitStatus?.({ status: "loading_model", phase: "checking_local", path });
  const manifest = await readManifestOrNull(ctx.store, plan.name);
  if (!manifest) return { manifest, present: null };
  const have = manifestFiles(manifest);
  const out: FetchedBlob[] = [];
  for (const [i, file] of plan.files.entries()) {
    const expected = file.sha256?.toLowerCase();
    const match = have.find((h) =>
      (i === 0 || h.filename === file.filename) &&
      (expected ? digestsEqual(h.hex, expected) : h.url === undefined || h.url === file.url)
    );
    if (!match || !(await ctx.store.hasBlob(match.hex))) return { manifest, present: null };
    out.push({
      role: file.role,
      filename: file.filename,
      url: file.url,
      sha256: match.hex,
      sizeBytes: match.sizeBytes,
      path: ctx.store.layout.blobPath(match.hex),
      cached: true,
      pinned: expected !== undefined || (manifest.pinned ?? true),
    });
  }
  return { manifest, present: out };
}

async function cached(
  plan: PullFilesPlan,
  ctx: PullContext,
  manifest: Manifest,
  files: FetchedBlob[],
): Promise<PullResult> {
  for (const f of files) emitCompleted(ctx, f);
  return await result(plan, ctx, manifest, files);
}
