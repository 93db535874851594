/**
 * Model references and their resolution to pinned pull plans.
 * @module
 */
export { type ModelRef, nameFromFilename, parseRef, REF_FORMS } from "./reference.ts";
export { type ResolveOptions, resolvePlan } from "./resolve.ts";
