/**
 * Model references, the registry contract, resolution to pinned plans, credentials, and the one
 * resolve-then-pull task.
 * @module
 */
export {
  formatHfRef,
  type HfRef,
  mayBePluginRef,
  type ModelRef,
  nameFromFilename,
  parseRef,
  type ParseRefOptions,
  parseSha256Flag,
  type PluginRef,
  REF_FORMS,
} from "./reference.ts";
export { HF_CDN_HOSTS, hfStoreName, huggingFaceRegistry, withHfAccess } from "./huggingface.ts";
export { accessDenied, accessHint, DEFAULT_HF_ENDPOINT, HfApi, HfModelInfo, HfTreeEntry } from "./hf_api.ts";
export {
  availableQuants,
  DEFAULT_QUANT,
  type HfFile,
  type HfSelection,
  quantOf,
  selectHfFiles,
  shardOf,
} from "./hf_files.ts";
export type {
  FileRole,
  ModelPlan,
  PlannedFile,
  Registry,
  RegistryContext,
  RegistrySettings,
  ResolveModelOptions,
  SkippedFile,
} from "./registry.ts";
export {
  BUILTIN_REGISTRIES,
  registryFor,
  resolveModel,
  type ResolveModelWithOptions,
} from "./resolve_model.ts";
export { storeRegistry, urlRegistry } from "./url_registry.ts";
export { planUrls, pullPlan } from "./pull_plan.ts";
export {
  type PulledReference,
  type PullEffects,
  pullReference,
  type PullReferenceOptions,
  pullResolvedPlan,
  resolveReference,
} from "./pull_reference.ts";
export { type LookedUpReference, lookUpReference, type RegistryLookup } from "./registry_lookup.ts";
export { credentialsFor, hubEndpoint, hubToken, withHostCredentials } from "./credentials.ts";
export { isPinnedCommit, storedModelFor } from "./stored_ref.ts";
