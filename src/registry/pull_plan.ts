/**
 * Pulls a resolved {@link ModelPlan} into the store: the bridge between the
 * registry contract (descriptors) and the download core (which verifies).
 * Every file of the plan is fetched concurrently under the context's one
 * connection budget, each verified; one manifest is written last.
 *
 * @example
 * ```ts
 * import type { PullContext } from "../download/pull_context.ts";
 * import type { RegistryContext } from "./registry.ts";
 * import { resolveModel } from "./resolve_model.ts";
 * import { parseRef } from "./reference.ts";
 * declare const registryContext: RegistryContext;
 * declare const pullContext: PullContext;
 * const plan = await resolveModel(parseRef("hf:owner/repo:Q4_K_M"), registryContext);
 * const result = await pullPlan(plan, pullContext);
 * ```
 * @module
 */
import type { PullContext } from "../download/pull_context.ts";
import { pullFiles, type PullResult } from "../download/pull_model.ts";
import type { ModelPlan } from "./registry.ts";

/** URLs whose hosts a pull of `plan` must be allowed to reach (its files, their mirrors, its CDN hosts). */
export function planUrls(plan: ModelPlan): string[] {
  return [
    ...plan.files.flatMap((f) => [f.url, ...(f.mirrors ?? [])]),
    ...(plan.allowHosts ?? []).map((h) => `https://${h}/`),
  ];
}

/** Downloads and verifies every file of `plan`, then writes its manifest. */
export async function pullPlan(plan: ModelPlan, ctx: PullContext): Promise<PullResult> {
  const [primary] = plan.files;
  return await pullFiles({
    name: plan.name,
    files: plan.files,
    source: { ...plan.source, filename: primary?.filename ?? plan.name, url: primary?.url },
    license: plan.license,
    format: plan.format,
    accessHint: plan.accessHint,
  }, ctx);
}
