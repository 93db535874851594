/**
 * Resolves a parsed reference with the first registry that claims it (a
 * "first" hook in the plugin driver's terms), and checks what came back.
 *
 * @example
 * ```ts
 * import type { RegistryContext } from "./registry.ts";
 * import { parseRef } from "./reference.ts";
 * declare const ctx: RegistryContext;
 * const plan = await resolveModel(parseRef("https://h.example/m.gguf"), ctx);
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { isSha256Hex } from "../store/layout.ts";
import type { ModelRef } from "./reference.ts";
import type { ModelPlan, Registry, RegistryContext, ResolveModelOptions } from "./registry.ts";
import { huggingFaceRegistry } from "./huggingface.ts";
import { storeRegistry, urlRegistry } from "./url_registry.ts";
import { ociRegistry } from "./oci/oci_registry.ts";

/** The built-in registries, in the order they are asked. */
export const BUILTIN_REGISTRIES: readonly Registry[] = [
  huggingFaceRegistry,
  ociRegistry,
  urlRegistry,
  storeRegistry,
];

/** Options of {@link resolveModel}. */
export interface ResolveModelWithOptions extends ResolveModelOptions {
  registries?: readonly Registry[];
}

/** The registry that claims `ref`, or `INVALID_REF` for a local file (imported, not pulled). */
export function registryFor(ref: ModelRef, registries: readonly Registry[] = BUILTIN_REGISTRIES): Registry {
  const registry = registries.find((r) => r.claims(ref));
  if (registry) return registry;
  if (ref.kind === "file") {
    throw new LodeError("USAGE", `a local file is imported, not pulled: lode import ${ref.path} --name NAME`);
  }
  if (ref.kind === "plugin") {
    throw new LodeError("INVALID_REF", `no registry claims the scheme ${ref.scheme}:`, {
      details: { ref: ref.reference, scheme: ref.scheme },
      hint: "Install a registry plugin with `lode plugin add DIR`, or load one with --plugin DIR.",
    });
  }
  throw new LodeError("INVALID_REF", `no registry resolves this reference`, { details: { ref } });
}

/** Resolves `ref` to a plan and validates its shape (at least one file, hashes well-formed). */
export async function resolveModel(
  ref: ModelRef,
  ctx: RegistryContext,
  options: ResolveModelWithOptions = {},
): Promise<ModelPlan> {
  const registry = registryFor(ref, options.registries);
  if (options.mirrors?.length && ref.kind !== "url") {
    throw new LodeError("USAGE", "--mirror applies to an https URL reference (the same bytes elsewhere)", {
      hint: "Give the file's URL with its hash and each mirror: lode pull URL#sha256=HEX --mirror URL2.",
    });
  }
  const plan = await registry.resolve(ref, ctx, options);
  if (plan.files.length === 0) {
    throw new LodeError("INTERNAL", `registry ${registry.id} returned a plan without files`);
  }
  for (const file of plan.files) {
    if (file.sha256 !== undefined && !isSha256Hex(file.sha256)) {
      throw new LodeError("INTERNAL", `registry ${registry.id} gave a malformed sha256 for ${file.filename}`);
    }
  }
  return plan;
}
