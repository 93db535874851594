/**
 * Model references, the registry contract, and resolution to pinned plans.
 * @module
 */
export { type ModelRef, nameFromFilename, parseRef, REF_FORMS } from "./reference.ts";
export type {
  FileRole,
  ModelPlan,
  PlannedFile,
  Registry,
  RegistryContext,
  ResolveModelOptions,
} from "./registry.ts";
export {
  BUILTIN_REGISTRIES,
  registryFor,
  resolveModel,
  type ResolveModelWithOptions,
} from "./resolve_model.ts";
export { storeRegistry, urlRegistry } from "./url_registry.ts";
export { planUrls, pullPlan } from "./pull_plan.ts";
