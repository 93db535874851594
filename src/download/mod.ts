/**
 * The download engine: host policy, HTTP GET with checked redirects, disk
 * preflight, and the verified pull into the store.
 * @module
 */
export { HostPolicy, type HostPolicyOptions } from "./host_policy.ts";
export { createTrustingClient, openGet, type OpenGetOptions } from "./http_get.ts";
export { checkDiskSpace, DEFAULT_CUSHION_BYTES, freeBytes } from "./disk_space.ts";
export { type PullContext, pullModel, type PullPlan, type PullResult } from "./pull_model.ts";
export { RateMeter } from "./rate_meter.ts";
