/**
 * The download engine: host policy, HTTP GET with checked redirects, disk
 * preflight, and the verified pull into the store.
 * @module
 */
export { HostPolicy, type HostPolicyOptions } from "./host_policy.ts";
export { openGet, type OpenGetOptions } from "./http_get.ts";
export { createHttpClients, type HttpClients } from "./proxy.ts";
export { checkDiskSpace, DEFAULT_CUSHION_BYTES, freeBytes } from "./disk_space.ts";
export { type PulledFile, pullFiles, type PullFilesPlan, type PullResult } from "./pull_model.ts";
export type { FetchedBlob, PullFile } from "./fetch_blob.ts";
export type { PullContext } from "./pull_context.ts";
export { RateMeter } from "./rate_meter.ts";
export { ConnectionBudget } from "./connection_budget.ts";
export { backoffMs, DEFAULT_RETRY, isRetryable, type RetryPolicy, withRetries } from "./retry.ts";
export { downloadToPartial, MAX_AUTO_CONNECTIONS } from "./parallel_download.ts";
export type { DownloadOptions, DownloadResult } from "./download_options.ts";
export { HashFrontier } from "./hash_frontier.ts";
export {
  contiguousPrefix,
  planParts,
  readResumeState,
  ResumeState,
  writeResumeState,
} from "./resume_state.ts";
