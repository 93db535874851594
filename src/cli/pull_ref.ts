/**
 * Pulling a reference from a command: the one resolve-then-pull task
 * (src/registry/pull_reference.ts) with the command's effects — its registry context, its pull
 * context (progress, `--json` events) and the config's credentials. Used by `lode pull`,
 * `lode lock add`, `lode sync` and the model opening of `lode run`/`chat`/`embed`.
 * @module
 */
import { LodeError } from "../errors.ts";
import type { PullResult } from "../download/pull_model.ts";
import type { ModelPlan } from "../registry/registry.ts";
import {
  type PullEffects,
  pullReference,
  pullResolvedPlan,
  resolveReference,
} from "../registry/pull_reference.ts";
import { type CommandContext, pullSettings } from "./context.ts";

/**
 * The command's effects for a pull: its contexts, its registry lookup and the registries' credentials (the
 * Hub's token through the built-in Hugging Face registry's `registry.credentials`), the config's settings.
 */
export function pullEffects(ctx: CommandContext): PullEffects {
  return {
    registryContext: (hosts) => ctx.registryContext(hosts),
    pullContext: (urls) => ctx.pullContext(urls),
    settings: pullSettings(ctx.config),
    lookupRegistry: (scheme) => ctx.lookupRegistry(scheme),
    credentials: (registry, host) => ctx.credentials(registry, host),
  };
}

/** Resolves one reference (hf:, URL or stored name) to a pinned plan, asking only the hosts its registry needs. */
export async function resolveRef(
  ctx: CommandContext,
  ref: string,
  options: { name?: string; sha256?: string; mirrors?: string[] },
): Promise<ModelPlan> {
  return await resolveReference(ref, pullEffects(ctx), options);
}

/** Downloads and verifies a plan into the store. Used by `lode lock add`. */
export async function pullResolved(ctx: CommandContext, plan: ModelPlan): Promise<PullResult> {
  return await reported(ctx, () => pullResolvedPlan(plan, pullEffects(ctx)));
}

/** Pulls one reference and returns the result. Used by `lode pull` and by `lode run`, `chat` and `embed` for a model the store lacks. */
export async function pullRef(
  ctx: CommandContext,
  ref: string,
  options: { name?: string; sha256?: string; mirrors?: string[] },
): Promise<PullResult> {
  let pulling = false; // resolved: a typed error from now on was published as a `failed` event
  try {
    return await pullReference(ref, pullEffects(ctx), { ...options, onPlan: () => pulling = true });
  } catch (e) {
    if (pulling && e instanceof LodeError) ctx.output.errorReported = true;
    throw e;
  }
}

/** Runs a pull; a typed error it throws was already published as a `failed` event: that is its error report. */
async function reported<T>(ctx: CommandContext, pull: () => Promise<T>): Promise<T> {
  try {
    return await pull();
  } catch (e) {
    if (e instanceof LodeError) ctx.output.errorReported = true;
    throw e;
  }
}
