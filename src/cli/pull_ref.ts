/**
 * Pulling a reference from a command: resolve it through its registry (asking only the hosts that
 * registry needs), then download and verify the plan into the store with the command's pull
 * context (progress, `--json` events). Used by `lode pull`, `lode lock add` and the model opening
 * of `lode run`/`chat`/`embed`.
 * @module
 */
import { LodeError } from "../errors.ts";
import type { PullResult } from "../download/pull_model.ts";
import type { ModelPlan } from "../registry/registry.ts";
import { parseRef } from "../registry/reference.ts";
import { planUrls, pullPlan } from "../registry/pull_plan.ts";
import { registryFor, resolveModel } from "../registry/resolve_model.ts";
import type { CommandContext } from "./context.ts";

/** Resolves one reference (hf:, URL or stored name) to a pinned plan, asking only the hosts its registry needs. */
export async function resolveRef(
  ctx: CommandContext,
  ref: string,
  options: { name?: string; sha256?: string },
): Promise<ModelPlan> {
  const parsed = parseRef(ref);
  const registry = registryFor(parsed);
  const registryContext = await ctx.registryContext(registry.hostsFor?.(parsed, ctx.config) ?? []);
  return await resolveModel(parsed, registryContext, options);
}

/** Downloads and verifies a plan into the store. Used by `lode pull` and `lode lock add`. */
export async function pullResolved(ctx: CommandContext, plan: ModelPlan): Promise<PullResult> {
  const pull = await ctx.pullContext(planUrls(plan));
  try {
    return await pullPlan(plan, pull);
  } catch (e) {
    // pullPlan already emitted a `failed` event; with --json that is the error report.
    if (e instanceof LodeError) ctx.output.errorReported = ctx.output.json;
    throw e;
  }
}

/** Pulls one reference and returns the result. Used by `lode pull` and by `lode run`, `chat` and `embed` for a model the store lacks. */
export async function pullRef(
  ctx: CommandContext,
  ref: string,
  options: { name?: string; sha256?: string },
): Promise<PullResult> {
  return await pullResolved(ctx, await resolveRef(ctx, ref, options));
}
