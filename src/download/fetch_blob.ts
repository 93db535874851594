/**
 * One file of a pull, into the CAS and no further (the manifest is the
 * caller's): take the blob lock; a blob already at the CAS path is reused
 * (trusted when the model's own manifest names it, else re-hashed) or
 * quarantined; otherwise stream the bytes into the partial directory while
 * hashing them, compare in constant time (mismatch → quarantine,
 * `DIGEST_MISMATCH`) and rename them into place. A file with mirrors tries
 * its URLs in order ({@link fromMirrors}); the partial of a pinned file is
 * shared by all of them. Emits `file_started`, `file_progress`,
 * `file_restarted`, `mirror_failed` and `file_completed` for the file.
 * @module
 */
import { LodeError } from "../errors.ts";
import { parentDir } from "../path.ts";
import { toMb } from "../events/download_event.ts";
import { checkBlob } from "../store/verify_model.ts";
import { digestsEqual, sha256Bytes } from "../store/hash.ts";
import { quarantineFile } from "../store/quarantine.ts";
import { isVerifiedByLode } from "../store/verified_record.ts";
import { type FileSource, fromMirrors, publicUrl } from "./mirrors.ts";
import { downloadToPartial } from "./parallel_download.ts";
import type { PullContext } from "./pull_context.ts";
import { RateMeter } from "./rate_meter.ts";

/** One file to fetch. */
export interface PullFile {
  /** `model`, `shard`, `mmproj`, … */
  role: string;
  /** Name as the source knows it (a path in a repo); recorded in the manifest. */
  filename: string;
  url: string;
  /**
   * Further URLs of the same bytes, tried in order after `url` fails in a way another origin may not
   * (mirrors.ts). A pinned file's partial download carries over from one to the next.
   */
  mirrors?: string[];
  /** Expected SHA-256 (lowercase hex); without it the hash is computed and the file is not pinned. */
  sha256?: string;
  sizeBytes?: number;
  /** Credentials, sent only to `url`'s own origin (a mirror on it too; never a redirect target elsewhere). */
  headers?: Record<string, string>;
  /**
   * Credentials by host (`name:port` as in a URL; a registry plugin's `registry.credentials`): sent to each
   * URL of this file (`url` or a mirror) on that host only, never to a redirect target elsewhere.
   */
  hostHeaders?: Record<string, Record<string, string>>;
  /** An optional file's failure does not fail the pull. */
  optional?: boolean;
}

/** A file that is now in the CAS. */
export interface FetchedBlob {
  role: string;
  filename: string;
  url: string;
  sha256: string;
  sizeBytes: number;
  /** The CAS path of the bytes. */
  path: string;
  /** True when nothing was downloaded. */
  cached: boolean;
  pinned: boolean;
}

/** Where a file sits in its pull. */
export interface FetchPosition {
  model: string;
  /** 1-based. */
  index: number;
  totalFiles: number;
  /** Digests the model's current manifest names: present blobs among them are not re-hashed. */
  trusted: ReadonlySet<string>;
}

/** Fetches `file` into the CAS (see the module comment). */
export async function fetchBlob(file: PullFile, ctx: PullContext, at: FetchPosition): Promise<FetchedBlob> {
  const { store } = ctx;
  const expected = file.sha256?.toLowerCase();
  const done = (sha256: string, sizeBytes: number, cached: boolean, pinned: boolean): FetchedBlob => {
    const { role, filename, url } = file;
    const blob = {
      role,
      filename,
      url,
      sha256,
      sizeBytes,
      path: store.layout.blobPath(sha256),
      cached,
      pinned,
    };
    emitCompleted(ctx, blob);
    return blob;
  };
  if (expected) {
    const present = async () =>
      done(expected, (await Deno.stat(store.layout.blobPath(expected))).size, true, true);
    if (at.trusted.has(expected) && (await store.hasBlob(expected))) return await present();
    await using _blobLock = await store.lockBlob(expected, ctx.lock);
    if (await reusable(ctx, expected, at.model)) return await present();
    const partialDir = store.layout.partialDir(expected);
    const downloaded = await fromMirrors(file, ctx, at.model, async (source) => {
      const got = await download(file, source, ctx, at, partialDir, true);
      if (!digestsEqual(got.sha256, expected)) {
        throw await quarantined(ctx, at, file, source.url, got, expected, partialDir);
      }
      return got;
    });
    await commit(ctx, downloaded.file, expected);
    return done(expected, downloaded.bytes, false, true);
  }
  // Unpinned, nothing says two URLs serve the same bytes: each has its own partial.
  const downloaded = await fromMirrors(file, ctx, at.model, (source) => {
    const partialDir = store.layout.unpinnedPartialDir(sha256Bytes(`url:${source.url}`));
    return download(file, source, ctx, at, partialDir, false);
  });
  await using _blobLock = await store.lockBlob(downloaded.sha256, ctx.lock);
  await commit(ctx, downloaded.file, downloaded.sha256);
  return done(downloaded.sha256, downloaded.bytes, false, false);
}

/** Wrong bytes: quarantined, the partial removed (the next URL starts clean); the `DIGEST_MISMATCH` to throw. */
async function quarantined(
  ctx: PullContext,
  at: FetchPosition,
  file: PullFile,
  url: string,
  downloaded: { file: string; sha256: string },
  expected: string,
  partialDir: string,
): Promise<LodeError> {
  const { store } = ctx;
  const moved = await quarantineFile(store.layout, downloaded.file, {
    expected,
    actual: downloaded.sha256,
    source: url,
    reason: "digest_mismatch",
    name: at.model,
  });
  await Deno.remove(partialDir, { recursive: true }).catch(() => {});
  ctx.emitStatus?.({
    status: "loading_model",
    phase: "quarantine",
    path: downloaded.file,
    expected_sha256: expected,
    actual_sha256: downloaded.sha256,
    quarantine_path: moved.path,
  });
  return new LodeError(
    "DIGEST_MISMATCH",
    `sha256 of ${file.filename} is ${downloaded.sha256}, expected ${expected}; bytes quarantined at ${moved.path}`,
    { details: { expected, actual: downloaded.sha256, quarantine_path: moved.path, url } },
  );
}

/**
 * Emits `file_completed` for a blob that is in the CAS (fetched now, or found there).
 */
export function emitCompleted(ctx: Pick<PullContext, "emit">, blob: FetchedBlob): void {
  const { filename, sha256, sizeBytes, cached } = blob;
  ctx.emit?.({ event: "file_completed", filename, sha256, size_bytes: sizeBytes, cached });
}

/** Moves the verified bytes into the CAS; when the blob is already there, the partial directory just goes. */
async function commit(ctx: PullContext, tmp: string, hex: string): Promise<void> {
  if (await ctx.store.hasBlob(hex)) await Deno.remove(parentDir(tmp), { recursive: true });
  else await ctx.store.commitBlob(tmp, hex);
}

/** A blob already at the CAS path (another model's, an interrupted pull's) is re-hashed: reused or quarantined. */
async function reusable(ctx: PullContext, expected: string, model: string): Promise<boolean> {
  const { store } = ctx;
  if (!(await store.hasBlob(expected))) return false;
  // A blob file lode itself wrote or re-hashed, unchanged since (same inode, times, size), is trusted as
  // `lode sync` trusts it; anything else (a restored cache, bytes placed by hand) is hashed again.
  if (await isVerifiedByLode(store.layout, expected)) return true;
  const path = store.layout.blobPath(expected);
  ctx.emitStatus?.({ status: "loading_model", phase: "verify", path });
  const check = await checkBlob(store, expected, { name: model, signal: ctx.signal });
  if (check.ok) return true;
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
  return false;
}

/**
 * Downloads one URL of the file into `partialDir` (resuming what is there — for `pinned` bytes, whichever
 * URL it came from), with byte-level progress events.
 */
async function download(
  file: PullFile,
  source: FileSource,
  ctx: PullContext,
  at: FetchPosition,
  partialDir: string,
  pinned: boolean,
): Promise<{ file: string; sha256: string; bytes: number }> {
  const emit = ctx.emit ?? (() => {});
  const filename = file.filename;
  const meter = new RateMeter();
  const interval = ctx.progressIntervalMs ?? 100;
  let total: number | null = null;
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
  };
  const result = await downloadToPartial(source.url, partialDir, {
    policy: ctx.policy,
    clientFor: ctx.clientFor,
    send: ctx.send,
    headers: source.headers,
    pinnedBytes: pinned,
    signal: ctx.signal,
    connections: ctx.connections,
    budget: ctx.budget,
    stallMs: ctx.stallMs,
    retry: ctx.retry,
    expectedBytes: file.sizeBytes,
    disk: { path: ctx.store.layout.blobsDir, cushionBytes: ctx.cushionBytes },
    onStart: (info) => {
      total = info.totalBytes;
      emit({
        event: "file_started",
        model: at.model,
        filename,
        index: at.index,
        total_files: at.totalFiles,
        size_mb: toMb(total ?? 0),
        size_bytes: total,
        url: info.url,
      });
      progress(info.resumedBytes, true);
    },
    onProgress: (bytes) => progress(bytes),
    onRestart: (info) => {
      emit({
        event: "file_restarted",
        model: at.model,
        filename,
        url: publicUrl(source.url),
        reason: info.reason,
        discarded_bytes: info.discardedBytes,
        previous: info.previous &&
          { validator: info.previous.validator, size_bytes: info.previous.sizeBytes },
        current: info.current && { validator: info.current.validator, size_bytes: info.current.sizeBytes },
      });
    },
  });
  progress(result.bytes, true);
  return result;
}
