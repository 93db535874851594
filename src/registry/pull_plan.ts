/**
 * Pulls a resolved {@link ModelPlan} into the store: the bridge between the
 * registry contract (descriptors) and the download core (which verifies).
 *
 * @example
 * ```ts
 * const plan = await resolveModel(parseRef(url), registryContext);
 * const result = await pullPlan(plan, pullContext);
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { type PullContext, pullModel, type PullResult } from "../download/mod.ts";
import type { ModelPlan } from "./registry.ts";

/** URLs whose hosts a pull of `plan` must be allowed to reach (its files and its CDN hosts). */
export function planUrls(plan: ModelPlan): string[] {
  return [...plan.files.map((f) => f.url), ...(plan.allowHosts ?? []).map((h) => `https://${h}/`)];
}

/** Downloads and verifies every file of `plan`, then writes its manifest. */
export async function pullPlan(plan: ModelPlan, ctx: PullContext): Promise<PullResult> {
  if (plan.files.length !== 1) {
    throw new LodeError("INTERNAL", `multi-file models are not supported yet (${plan.files.length} files)`);
  }
  const [file] = plan.files as [ModelPlan["files"][0]];
  return await pullModel({
    name: plan.name,
    url: file.url,
    sha256: file.sha256,
    sizeBytes: file.sizeBytes,
    headers: file.headers,
    license: plan.license,
    format: plan.format,
    source: { ...plan.source, filename: file.filename, url: file.url },
  }, ctx);
}
