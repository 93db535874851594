/**
 * The options and the result of one file's download (`downloadToPartial` in
 * parallel_download.ts), shared by the modules that carry it out: the probe,
 * the part runs and the single stream.
 * @module
 */
import type { LodeError } from "../errors.ts";
import type { RestartReason } from "../events/download_event.ts";
import type { ConnectionBudget } from "./connection_budget.ts";
import type { HostPolicy } from "./host_policy.ts";
import type { SendRequest } from "./http_get.ts";
import type { RetryPolicy } from "./retry.ts";

/** Options of `downloadToPartial` (parallel_download.ts). */
export interface DownloadOptions {
  policy: HostPolicy;
  /** The HTTP client for a URL (extra CAs, the proxy that applies to its host); Deno's default when omitted. */
  clientFor?: (url: URL) => Deno.HttpClient | undefined;
  /** Sends one GET without following redirects; `fetch` with `clientFor`'s client when omitted. */
  send?: SendRequest;
  /** Credentials; only ever sent to the URL's own origin. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /**
   * Connections for this file: a number is used as is; `"auto"` (the default) measures the first
   * connection and opens up to 16 when each connection is limited (see `PartRun`).
   */
  connections?: number | "auto";
  /** Part size (default: about four parts per connection, 4–64 MiB). */
  partBytes?: number;
  /** Shared across files; default: one of `connections` slots for this file alone. */
  budget?: ConnectionBudget;
  /** No byte for this long restarts a part (default 30 s). */
  stallMs?: number;
  retry?: RetryPolicy;
  /**
   * The caller pins the bytes by their SHA-256 (the partial directory is the digest's): a partial that
   * another URL of them left is resumed when this URL serves the same size (mirrors).
   */
  pinnedBytes?: boolean;
  /** The size a registry promised: a different size fails before any byte is kept. */
  expectedBytes?: number;
  /** Disk preflight: the directory to check and the free space to keep. */
  disk?: { path: string; cushionBytes?: number };
  /** The download starts: the size (when known), the URL after redirects, bytes already on disk. */
  onStart?: (info: { totalBytes: number | null; url: string; resumedBytes: number }) => void;
  /** Bytes on disk so far (monotonic). */
  onProgress?: (bytes: number) => void;
  /** The bytes on disk belong to another version of the file: they are discarded and the file starts over. */
  onRestart?: (info: RestartInfo) => void;
  /** A failed attempt will be retried after `delayMs`. */
  onRetry?: (error: LodeError, attempt: number, delayMs: number) => void;
}

/** Why a download started over, and what it had. */
export interface RestartInfo {
  reason: RestartReason;
  /** Bytes that were on disk and are fetched again. */
  discardedBytes: number;
  /** The validator (ETag, else Last-Modified) and size the discarded bytes were fetched with. */
  previous?: { validator: string | null; sizeBytes: number };
  /** What the origin serves now, when its answer said. */
  current?: { validator: string | null; sizeBytes: number | null };
}

/** What a finished download produced. */
export interface DownloadResult {
  file: string;
  sha256: string;
  bytes: number;
  /** Bytes that were already on disk from an earlier, interrupted pull. */
  resumedBytes: number;
}
