/**
 * Downloads one file into its partial directory over several connections and
 * returns its SHA-256 — the engine behind every pull.
 *
 * 1. **Probe**: a `GET` for the first part (`Range`, redirects checked hop by
 *    hop). A `206` gives the size and the validators (strong ETag or
 *    Last-Modified); a `200` means the origin ignores ranges: one stream,
 *    hashed as it lands.
 * 2. **Resume**: a sidecar (`state.json`) that matches the URL, size and
 *    validators keeps every byte already on disk; for bytes pinned by their
 *    SHA-256 (`pinnedBytes`), one left by another URL (a mirror) of the same
 *    size is kept too; anything else starts over.
 * 3. **Parts** run on up to `connections` connections (a global
 *    `ConnectionBudget` across files), each retried with backoff,
 *    watched for stalls, and re-resolved when a signed redirect expires.
 * 4. **Hashing frontier**: the contiguous prefix is hashed as it forms
 *    ({@link HashFrontier}), so the digest is ready when the last part lands.
 * 5. If the origin's file changed — between runs (the resumed probe's
 *    `If-Range` fails, or its `206` names another size or validator) or
 *    mid-download (a part's `If-Range` fails) — everything is discarded,
 *    `onRestart` says why, and the download starts again as a fresh one (a new
 *    probe, every connection); a second change mid-download fails with
 *    `ORIGIN_CHANGED` — bytes of two versions are never mixed.
 *
 * @example
 * ```ts
 * import { HostPolicy } from "./host_policy.ts";
 * const url = "https://127.0.0.1:8443/m.gguf";
 * const partialDir = "/srv/models/blobs/sha256/27/.partial-270cba1b…";
 * const policy = new HostPolicy().with([url]);
 * const { file, sha256, bytes } = await downloadToPartial(url, partialDir, { policy, connections: 8 });
 * ```
 * @module
 */
import { LodeError, toLodeError } from "../errors.ts";
import { checkDiskSpace } from "./disk_space.ts";
import type { DownloadOptions, DownloadResult, RestartInfo } from "./download_options.ts";
import { PartRun } from "./part_run.ts";
import { openProbe } from "./probe.ts";
import {
  isIncomplete,
  type PartState,
  planParts,
  readResumeState,
  type ResumeState,
} from "./resume_state.ts";
import { backoffMs, DEFAULT_RETRY, isRetryable, sleep, withRetries } from "./retry.ts";
import { singleStream } from "./single_stream.ts";

/** The most connections `"auto"` grows to. */
export const MAX_AUTO_CONNECTIONS = 16;
/** The first part (the probe's range). */
const FIRST_PART_BYTES = 4 * 1024 * 1024;

/** Chooses the part size: about four parts per connection, between 4 and 64 MiB. */
function choosePartBytes(size: number, connections: number): number {
  const MiB = 1024 * 1024;
  return Math.min(64 * MiB, Math.max(4 * MiB, Math.ceil(size / (connections * 4) / MiB) * MiB));
}

/** Downloads `url` into `partialDir/data.tmp` (resuming what is there) and returns its digest. */
export async function downloadToPartial(
  url: string,
  partialDir: string,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const retry = options.retry ?? DEFAULT_RETRY;
  let originChanges = 0;
  let streamFailures = 0;
  while (true) {
    try {
      return await attemptDownload(url, partialDir, options);
    } catch (e) {
      const error = options.signal?.aborted && !(e instanceof LodeError)
        ? new LodeError("INTERRUPTED", `download of ${url} was cancelled`, { cause: e })
        : toLodeError(e);
      if (error.code === "ORIGIN_CHANGED" && originChanges++ < 1) {
        const saved = await readResumeState(partialDir);
        await Deno.remove(partialDir, { recursive: true }).catch(() => {});
        options.onRestart?.({
          reason: "changed_during_download",
          discardedBytes: saved ? doneBytes(saved) : 0,
          previous: saved ? previousOf(saved) : undefined,
        });
        continue;
      }
      // A single stream (no ranges) that broke mid-body starts over, within the retry policy.
      if (error.details.single_stream && isRetryable(error) && ++streamFailures < retry.attempts) {
        const delay = backoffMs(streamFailures - 1, retry);
        options.onRetry?.(error, streamFailures, delay);
        await sleep(delay, options.signal);
        continue;
      }
      throw error;
    }
  }
}

async function attemptDownload(
  url: string,
  partialDir: string,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const release = options.budget ? await options.budget.acquire() : () => {};
  const slot = { release, handed: false };
  try {
    return await attemptInner(url, partialDir, options, slot);
  } finally {
    if (!slot.handed) slot.release();
  }
}

async function attemptInner(
  url: string,
  partialDir: string,
  options: DownloadOptions,
  slot: { release: () => void; handed: boolean },
): Promise<DownloadResult> {
  const file = `${partialDir}/data.tmp`;
  const retry = options.retry ?? DEFAULT_RETRY;
  const saved = lastByteAgain(await readResumeState(partialDir));
  // Another URL's partial is kept only for pinned bytes (a mirror); its validators are that origin's.
  const sameUrl = saved?.url === url;
  const resumable = (sameUrl || options.pinnedBytes) && saved?.parts.some(isIncomplete) ? saved : null;
  const firstMissing = resumable?.parts.find(isIncomplete);
  const probeFrom = firstMissing ? firstMissing.start + firstMissing.done : 0;
  const probeTo = firstMissing ? firstMissing.end - 1 : FIRST_PART_BYTES - 1;

  const validator = sameUrl ? resumable?.etag ?? resumable?.last_modified ?? null : null;
  const probe = await withRetries(
    () => openProbe(url, { from: probeFrom, to: probeTo, validator }, options),
    {
      policy: retry,
      signal: options.signal,
      onRetry: options.onRetry,
    },
  );
  if (probe.response.status !== 206) {
    if (validator && resumable) {
      // The resumed probe's If-Range failed: the origin sends the whole file because it changed. Start
      // over as a fresh download (a new probe without If-Range, then every connection).
      probe.controller.abort();
      const length = probe.response.headers.get("content-length");
      return await restart(url, partialDir, options, slot, {
        reason: "validator_changed",
        discardedBytes: doneBytes(resumable),
        previous: previousOf(resumable),
        current: {
          validator: validatorOf(probe.response.headers),
          sizeBytes: length !== null && /^\d+$/.test(length) ? Number(length) : null,
        },
      });
    }
    return await singleStream(probe, { ...options, file, partialDir });
  }

  const contentRange = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(probe.response.headers.get("content-range") ?? "");
  if (!contentRange) {
    probe.controller.abort();
    throw new LodeError("HTTP_STATUS", `${probe.url.host} sent a 206 without a usable Content-Range`, {
      details: {
        url: probe.url.href,
        status: 206,
        content_range: probe.response.headers.get("content-range"),
      },
    });
  }
  const size = Number(contentRange[3]);
  if (options.expectedBytes !== undefined && size !== options.expectedBytes) {
    probe.controller.abort();
    throw new LodeError(
      "SIZE_MISMATCH",
      `${probe.url.host} serves ${size} bytes, expected ${options.expectedBytes}`,
      {
        details: { url: probe.url.href, expected_bytes: options.expectedBytes, received_bytes: size },
      },
    );
  }
  const etag = strongEtag(probe.response.headers.get("etag"));
  const lastModified = probe.response.headers.get("last-modified");
  const sameFile = resumable !== null && resumable.size === size &&
    (!sameUrl || (resumable.etag === etag && resumable.last_modified === lastModified));
  if (resumable && !sameFile) {
    // The sidecar describes another file: forget it and probe again from the start.
    probe.controller.abort();
    return await restart(url, partialDir, options, slot, {
      reason: resumable.size !== size ? "size_changed" : "validator_changed",
      discardedBytes: doneBytes(resumable),
      previous: previousOf(resumable),
      current: { validator: etag ?? lastModified, sizeBytes: size },
    });
  }
  const adaptive = options.connections === undefined || options.connections === "auto";
  const connections = adaptive ? MAX_AUTO_CONNECTIONS : options.connections as number;
  const parts: PartState[] = sameFile ? resumable.parts : [
    { start: 0, end: Math.min(size, FIRST_PART_BYTES), done: 0 },
    ...planParts(
      Math.max(0, size - FIRST_PART_BYTES),
      options.partBytes ?? choosePartBytes(size, connections),
    )
      .map((p) => ({ start: p.start + FIRST_PART_BYTES, end: p.end + FIRST_PART_BYTES, done: 0 })),
  ];
  const resumedBytes = parts.reduce((sum, p) => sum + p.done, 0);
  if (options.disk) {
    await checkDiskSpace(options.disk.path, {
      neededBytes: size - resumedBytes,
      cushionBytes: options.disk.cushionBytes,
    }).catch((e) => {
      probe.controller.abort();
      throw e;
    });
  }
  if (!sameFile) {
    await Deno.mkdir(partialDir, { recursive: true });
    using f = await Deno.open(file, { write: true, create: true, truncate: true });
    await f.truncate(0);
  }
  options.onStart?.({ totalBytes: size, url: probe.url.href, resumedBytes });

  slot.handed = true;
  const run = new PartRun({
    url,
    file,
    partialDir,
    parts,
    options: { ...options, retry, connections, adaptive, probeSlot: slot.release },
    identity: { size, etag, lastModified, resolved: probe.url },
  });
  return { ...(await run.complete(probe)), resumedBytes };
}

/** Forgets the sidecar, says why, and downloads the file as if for the first time. */
async function restart(
  url: string,
  partialDir: string,
  options: DownloadOptions,
  slot: { release: () => void; handed: boolean },
  info: RestartInfo,
): Promise<DownloadResult> {
  await Deno.remove(`${partialDir}/state.json`).catch(() => {});
  options.onRestart?.(info);
  return await attemptInner(url, partialDir, options, slot);
}

function doneBytes(state: ResumeState): number {
  return state.parts.reduce((sum, p) => sum + p.done, 0);
}

function previousOf(state: ResumeState): RestartInfo["previous"] {
  return { validator: state.etag ?? state.last_modified, sizeBytes: state.size };
}

function validatorOf(headers: Headers): string | null {
  return strongEtag(headers.get("etag")) ?? headers.get("last-modified");
}

function strongEtag(etag: string | null): string | null {
  return etag && !etag.startsWith("W/") ? etag : null;
}

/**
 * A partial whose every byte was written (the pull stopped between its last byte and its commit) resumes
 * with its last byte fetched again: that request's If-Range checks the origin still serves the same file,
 * and the rest is hashed from the disk.
 */
function lastByteAgain(saved: ResumeState | null): ResumeState | null {
  if (saved === null || saved.parts.some(isIncomplete)) return saved;
  const last = saved.parts.findLast((p) => p.done > 0);
  if (last === undefined) return saved;
  return { ...saved, parts: saved.parts.map((p) => p === last ? { ...p, done: p.done - 1 } : p) };
}
