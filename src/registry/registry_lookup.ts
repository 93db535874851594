/**
 * Which registry resolves a reference: its scheme (`hf:`, `https://`, `oci://`, `mirror:`) looked up once in
 * the run's registry table — the plugin driver, where the built-in registries and the registry plugins are
 * registered alike ({@link RegistryLookup}, given by the composition root) — then the reference parsed by
 * the grammar of the registry found: `SCHEME:REST` for a registry plugin, the built-in forms otherwise
 * (reference.ts). A reference without a scheme (a stored name, `hf.co/…`) is one of the built-in forms.
 *
 * @example
 * ```ts
 * import { lookUpReference } from "./registry_lookup.ts";
 * const { ref } = await lookUpReference("hf:owner/repo:Q8_0"); // no lookup given: the built-ins alone
 * ref.kind; // "hf"
 * ```
 * @module
 */
import { type ModelRef, parseRef, referenceScheme } from "./reference.ts";
import type { Registry } from "./registry.ts";
import { BUILTIN_REGISTRIES } from "./resolve_model.ts";

/** The registry claiming `scheme` (lower-case, without its colon), or undefined when none does. */
export type RegistryLookup = (scheme: string) => Promise<Registry | undefined>;

/** A reference parsed by the grammar of its registry, and the registries to pick from (that one first). */
export interface LookedUpReference {
  ref: ModelRef;
  registries: readonly Registry[];
}

/**
 * `input` parsed, with the registry its scheme names in the run's table first in `registries` (a parsed
 * `ref` of a registry plugin looks its scheme up as well). A registry with `schemes` (a registry plugin's
 * bridge) takes `SCHEME:REST` of its schemes; the built-ins' forms are parsed by reference.ts. Without
 * `lookup`, the built-ins alone.
 */
export async function lookUpReference(
  input: string | ModelRef,
  lookup?: RegistryLookup,
): Promise<LookedUpReference> {
  const scheme = typeof input === "string"
    ? referenceScheme(input)
    : input.kind === "plugin"
    ? input.scheme
    : undefined;
  const found = scheme !== undefined ? await lookup?.(scheme) : undefined;
  const ref = typeof input !== "string"
    ? input
    : parseRef(input, found?.schemes?.includes(scheme!) ? { schemes: [scheme!] } : {});
  return {
    ref,
    registries: found ? [found, ...BUILTIN_REGISTRIES.filter((r) => r !== found)] : BUILTIN_REGISTRIES,
  };
}
