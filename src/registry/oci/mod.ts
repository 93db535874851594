/**
 * OCI registries as a model source: `oci://HOST[:PORT]/REPO:TAG` and `@sha256:` references, the manifest
 * shapes accepted (CNCF ModelPack, Docker Model Runner, Ollama, an index of one), the registry's auth, and
 * the built-in registry that turns a manifest into a pinned plan, and the push of a stored model as a
 * ModelPack artifact (docs/oci.md).
 * @module
 */
export { formatOciRef, type OciRef, parseOciBody } from "./oci_ref.ts";
export { ociRegistry, withOciAccess, withOciHint } from "./oci_registry.ts";
export { type OciCredentials, ociCredentials } from "./docker_config.ts";
export { type PushEffects, pushModel, type PushOptions } from "./oci_push.ts";
