/**
 * Pull one model into the store — the seed's producer flow (`001` fetch.rs):
 *
 * 1. manifest + blob present? done (no network);
 * 2. take the per-name lock (waiting, and saying so), re-check;
 * 3. take the blob lock; a blob already at the CAS path is re-hashed and reused
 *    or quarantined;
 * 4. check the host policy, then stream the bytes into the partial directory,
 *    hashing while they arrive (no second pass), with a disk preflight first;
 * 5. constant-time compare; mismatch → quarantine, `DIGEST_MISMATCH`;
 * 6. atomic rename into the CAS path, manifest written last.
 *
 * A failure at any point leaves the store as it was: no manifest and nothing
 * at the CAS path unless the bytes were verified.
 *
 * @example
 * ```ts
 * const result = await pullModel(
 *   { name: "stories", url: "https://127.0.0.1:8443/stories.gguf", sha256: "270cba…", source },
 *   { store, policy: new HostPolicy().with(["https://127.0.0.1:8443"]), emit: console.log },
 * );
 * ```
 * @module
 */
import { LodeError, toLodeError } from "../errors.ts";
import type { DownloadEvent } from "../events/download_event.ts";
import { toMb } from "../events/download_event.ts";
import type { StatusEvent } from "../events/status_event.ts";
import {
  blobHex,
  checkBlob,
  digestsEqual,
  type LockWaitOptions,
  type ManifestSource,
  type ModelStore,
  quarantineFile,
  sha256Bytes,
} from "../store/mod.ts";
import type { HostPolicy } from "./host_policy.ts";
import type { SendRequest } from "./http_get.ts";
import type { ConnectionBudget } from "./connection_budget.ts";
import { downloadToPartial } from "./parallel_download.ts";
import { RateMeter } from "./rate_meter.ts";
import type { RetryPolicy } from "./retry.ts";

/** A pinned download plan, as a registry resolves a reference to it. */
export interface PullPlan {
  /** Model name in the store. */
  name: string;
  /** Where the bytes come from. */
  url: string;
  /** Expected SHA-256 (lowercase hex). Without it the hash is computed and recorded as not pinned. */
  sha256?: string;
  /** Expected size, when the registry knows it. */
  sizeBytes?: number;
  source: ManifestSource;
  license?: string | null;
  format?: string;
  /** Extra request headers (auth), sent only to the plan's own URL host. */
  headers?: Record<string, string>;
}

/** Effects and settings of a pull. */
export interface PullContext {
  store: ModelStore;
  policy: HostPolicy;
  /** The HTTP client for a URL (extra CAs, the proxy that applies to its host); Deno's default when omitted. */
  clientFor?: (url: URL) => Deno.HttpClient | undefined;
  /** Sends one GET without following redirects; `fetch` with `clientFor`'s client when omitted. */
  send?: SendRequest;
  emit?: (event: DownloadEvent) => void;
  emitStatus?: (event: StatusEvent) => void;
  lock?: LockWaitOptions;
  /** Free space to keep beyond the download. */
  cushionBytes?: number;
  signal?: AbortSignal;
  /** Minimum time between `file_progress` events. Default 100 ms. */
  progressIntervalMs?: number;
  /** Connections per file, or `"auto"` (the default: chosen by measurement). */
  connections?: number | "auto";
  /** Shared by every file pulled with this context. */
  budget?: ConnectionBudget;
  /** No byte for this long restarts a part. */
  stallMs?: number;
  retry?: RetryPolicy;
}

/** What a pull produced. */
export interface PullResult {
  name: string;
  sha256: string;
  path: string;
  sizeBytes: number;
  /** True when nothing was downloaded. */
  cached: boolean;
  pinned: boolean;
}

/** Pulls `plan` into the store. Emits the seed's download events; emits `failed` before throwing. */
export async function pullModel(plan: PullPlan, ctx: PullContext): Promise<PullResult> {
  const emit = ctx.emit ?? (() => {});
  emit({
    event: "started",
    model: plan.name,
    total_files: 1,
    total_mb: toMb(plan.sizeBytes ?? 0),
    total_bytes: plan.sizeBytes ?? null,
  });
  try {
    const result = await pullLocked(plan, ctx);
    emit({
      event: "completed",
      model: plan.name,
      blob: `sha256:${result.sha256}`,
      path: result.path,
      size_bytes: result.sizeBytes,
      pinned: result.pinned,
    });
    return result;
  } catch (e) {
    const error = toLodeError(e);
    emit({
      event: "failed",
      model: plan.name,
      error: error.message,
      code: error.code,
      details: error.details,
    });
    throw error;
  }
}

async function pullLocked(plan: PullPlan, ctx: PullContext): Promise<PullResult> {
  const { store } = ctx;
  const expected = plan.sha256?.toLowerCase();
  const filename = plan.source.filename || plan.name;
  const fast = await presentInStore(plan, ctx, expected);
  if (fast) return completedCached(plan, ctx, fast);

  await using _nameLock = await store.lockName(plan.name, ctx.lock);
  const again = await presentInStore(plan, ctx, expected);
  if (again) return completedCached(plan, ctx, again);

  if (expected) {
    await using _blobLock = await store.lockBlob(expected, ctx.lock);
    const reused = await reuseOrQuarantineBlob(plan, ctx, expected);
    if (reused) return completedCached(plan, ctx, reused);
    const downloaded = await download(plan, ctx, store.layout.partialDir(expected));
    const tmp = downloaded.file;
    if (!digestsEqual(downloaded.sha256, expected)) {
      const moved = await quarantineFile(store.layout, tmp, {
        expected,
        actual: downloaded.sha256,
        source: plan.url,
        reason: "digest_mismatch",
        name: plan.name,
      });
      await Deno.remove(store.layout.partialDir(expected), { recursive: true }).catch(() => {});
      ctx.emitStatus?.({
        status: "loading_model",
        phase: "quarantine",
        path: tmp,
        expected_sha256: expected,
        actual_sha256: downloaded.sha256,
        quarantine_path: moved.path,
      });
      throw new LodeError(
        "DIGEST_MISMATCH",
        `sha256 of ${filename} is ${downloaded.sha256}, expected ${expected}; bytes quarantined at ${moved.path}`,
        { details: { expected, actual: downloaded.sha256, quarantine_path: moved.path, url: plan.url } },
      );
    }
    return await commit(plan, ctx, tmp, downloaded, true);
  }

  const partialDir = store.layout.unpinnedPartialDir(sha256Bytes(`url:${plan.url}`));
  const downloaded = await download(plan, ctx, partialDir);
  await using _blobLock = await store.lockBlob(downloaded.sha256, ctx.lock);
  return await commit(plan, ctx, downloaded.file, downloaded, false);
}

async function commit(
  plan: PullPlan,
  ctx: PullContext,
  tmp: string,
  downloaded: { sha256: string; bytes: number },
  pinned: boolean,
): Promise<PullResult> {
  const { store } = ctx;
  const path = (await store.hasBlob(downloaded.sha256))
    ? (await Deno.remove(tmp), store.layout.blobPath(downloaded.sha256))
    : await store.commitBlob(tmp, downloaded.sha256);
  await store.writeManifest(
    { name: plan.name, format: plan.format, license: plan.license, source: plan.source, pinned },
    downloaded.sha256,
    downloaded.bytes,
  );
  return finished(plan, ctx, {
    sha256: downloaded.sha256,
    sizeBytes: downloaded.bytes,
    cached: false,
    pinned,
    path,
  });
}

interface Present {
  sha256: string;
  sizeBytes: number;
  pinned: boolean;
}

/** Manifest + blob already there (and matching the pin, if any): the no-network fast path. */
async function presentInStore(plan: PullPlan, ctx: PullContext, expected?: string): Promise<Present | null> {
  // The blob is known only when pinned; otherwise what is checked is the model's manifest.
  const path = expected ? ctx.store.layout.blobPath(expected) : ctx.store.layout.manifestPath(plan.name);
  ctx.emitStatus?.({ status: "loading_model", phase: "checking_local", path });
  const manifest = await ctx.store.readManifest(plan.name).catch((e) => {
    // A malformed manifest is rewritten by this pull rather than blocking it.
    if (e instanceof LodeError && e.code === "MANIFEST_INVALID") return null;
    throw e;
  });
  if (!manifest) return null;
  const hex = blobHex(manifest);
  if (expected && !digestsEqual(hex, expected)) return null;
  if (!expected && manifest.source.url !== undefined && manifest.source.url !== plan.url) return null;
  if (!(await ctx.store.hasBlob(hex))) return null;
  return { sha256: hex, sizeBytes: manifest.size_bytes, pinned: manifest.pinned ?? true };
}

/** A blob already at the CAS path (another name, an interrupted commit) is re-hashed, then reused or quarantined. */
async function reuseOrQuarantineBlob(
  plan: PullPlan,
  ctx: PullContext,
  expected: string,
): Promise<Present | null> {
  const { store } = ctx;
  if (!(await store.hasBlob(expected))) return null;
  const path = store.layout.blobPath(expected);
  ctx.emitStatus?.({ status: "loading_model", phase: "verify", path });
  const check = await checkBlob(store, expected, { name: plan.name, signal: ctx.signal });
  if (check.ok) {
    const { size } = await Deno.stat(path);
    await store.writeManifest(
      { name: plan.name, format: plan.format, license: plan.license, source: plan.source, pinned: true },
      expected,
      size,
    );
    return { sha256: expected, sizeBytes: size, pinned: true };
  }
  if (check.quarantinePath) {
    ctx.emitStatus?.({
      status: "loading_model",
      phase: "quarantine",
      path,
      expected_sha256: expected,
      actual_sha256: check.actual!,
      quarantine_path: check.quarantinePath,
    });
  }
  return null;
}

function completedCached(plan: PullPlan, ctx: PullContext, present: Present): PullResult {
  return finished(plan, ctx, { ...present, cached: true, path: ctx.store.layout.blobPath(present.sha256) });
}

/** Emits `file_completed` and returns the result. */
function finished(plan: PullPlan, ctx: PullContext, result: Omit<PullResult, "name">): PullResult {
  ctx.emit?.({
    event: "file_completed",
    filename: plan.source.filename || plan.name,
    sha256: result.sha256,
    size_bytes: result.sizeBytes,
    cached: result.cached,
  });
  return { name: plan.name, ...result };
}

/** Downloads the plan's URL into `partialDir` (resuming what is there), with byte-level progress events. */
async function download(
  plan: PullPlan,
  ctx: PullContext,
  partialDir: string,
): Promise<{ file: string; sha256: string; bytes: number }> {
  const emit = ctx.emit ?? (() => {});
  const filename = plan.source.filename || plan.name;
  const meter = new RateMeter();
  const interval = ctx.progressIntervalMs ?? 100;
  let total: number | null = null;
  let source = plan.url;
  let lastEmit = -Infinity;
  const progress = (downloaded: number, force = false) => {
    const now = performance.now();
    if (!force && now - lastEmit < interval) return;
    lastEmit = now;
    meter.update(downloaded);
    emit({
      event: "file_progress",
      filename,
      downloaded_mb: toMb(downloaded),
      total_mb: toMb(total ?? downloaded),
      downloaded_bytes: downloaded,
      total_bytes: total,
      bytes_per_second: Math.round(meter.bytesPerSecond),
    });
    ctx.emitStatus?.({
      status: "loading_model",
      phase: "download",
      downloaded_bytes: downloaded,
      total_bytes: total,
      source_url: source,
    });
  };
  const result = await downloadToPartial(plan.url, partialDir, {
    policy: ctx.policy,
    clientFor: ctx.clientFor,
    send: ctx.send,
    headers: plan.headers,
    signal: ctx.signal,
    connections: ctx.connections,
    budget: ctx.budget,
    stallMs: ctx.stallMs,
    retry: ctx.retry,
    expectedBytes: plan.sizeBytes,
    disk: { path: ctx.store.layout.blobsDir, cushionBytes: ctx.cushionBytes },
    onStart: (info) => {
      total = info.totalBytes;
      source = info.url;
      emit({
        event: "file_started",
        model: plan.name,
        filename,
        index: 1,
        total_files: 1,
        size_mb: toMb(total ?? 0),
        size_bytes: total,
        url: info.url,
      });
      progress(info.resumedBytes, true);
    },
    onProgress: (bytes) => progress(bytes),
  });
  progress(result.bytes, true);
  return result;
}
