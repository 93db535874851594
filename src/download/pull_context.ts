/**
 * The effects and settings of a pull ({@link PullContext}), shared by
 * pull_model.ts (one model) and fetch_blob.ts (one file of it).
 * @module
 */
import type { DownloadEvent } from "../events/download_event.ts";
import type { StatusEvent } from "../events/status_event.ts";
import type { LockWaitOptions, ModelStore } from "../store/model_store.ts";
import type { ConnectionBudget } from "./connection_budget.ts";
import type { HostPolicy } from "./host_policy.ts";
import type { SendRequest } from "./http_get.ts";
import type { RetryPolicy } from "./retry.ts";

/** Effects and settings of a pull. */
export interface PullContext {
  store: ModelStore;
  policy: HostPolicy;
  /** The HTTP client for a URL (extra CAs, the proxy that applies to its host); Deno's default when omitted. */
  clientFor?: (url: URL) => Deno.HttpClient | undefined;
  /** Sends one GET without following redirects; `fetch` with `clientFor`'s client when omitted. */
  send?: SendRequest;
  /** Download events, a file's byte-level progress among them (the one channel of a pull's progress). */
  emit?: (event: DownloadEvent) => void;
  /** The load phases a download has no event for: `checking_local`, `verify`, `quarantine`. */
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
