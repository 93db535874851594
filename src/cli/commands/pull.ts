/**
 * `lode pull REF… [--name N] [--sha256 HEX]`: download, verify and store models.
 * @module
 */
import { LodeError, toLodeError } from "../../errors.ts";
import type { PullResult } from "../../download/mod.ts";
import {
  type ModelPlan,
  parseRef,
  planUrls,
  pullPlan,
  registryFor,
  resolveModel,
} from "../../registry/mod.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";

/** Resolves one reference (hf:, URL or stored name) to a pinned plan, asking only the hosts its registry needs. */
export async function resolveRef(
  ctx: CommandContext,
  ref: string,
  options: { name?: string; sha256?: string },
): Promise<ModelPlan> {
  const parsed = parseRef(ref);
  const registry = registryFor(parsed);
  const registryContext = await ctx.registryContext(registry.hostsFor?.(parsed, ctx.env) ?? []);
  return await resolveModel(parsed, registryContext, options);
}

/** Downloads and verifies a plan into the store. Shared with `lode lock add`. */
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

/** Pulls one reference and returns the result. Shared with `lode run`. */
export async function pullRef(
  ctx: CommandContext,
  ref: string,
  options: { name?: string; sha256?: string },
): Promise<PullResult> {
  return await pullResolved(ctx, await resolveRef(ctx, ref, options));
}

/** `lode pull`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const refs = parsed.args.ref as string[];
  const name = parsed.options.name as string | undefined;
  const sha256 = parsed.options.sha256 as string | undefined;
  if (refs.length > 1 && (name || sha256)) {
    throw new LodeError("USAGE", "--name and --sha256 apply to a single reference");
  }
  // Every model at once, under one global connection budget; each result (or error) in the order given.
  const results = await Promise.allSettled(refs.map((ref) => pullRef(ctx, ref, { name, sha256 })));
  await ctx.endProgress();
  let failure: LodeError | null = null;
  for (const [i, settled] of results.entries()) {
    if (settled.status === "rejected") {
      const error = toLodeError(settled.reason);
      failure ??= error;
      if (refs.length > 1) ctx.output.error(error);
      continue;
    }
    const r = settled.value;
    const how = r.cached ? "already present" : r.pinned ? "verified" : "downloaded";
    const files = r.files.length > 1 ? `  (${r.files.length} files)` : "";
    ctx.output.result(`${r.name}  sha256:${r.sha256}  ${formatBytes(r.sizeBytes)}  ${how}${files}`);
    if (!r.pinned && !r.cached) {
      ctx.output.note("note: no sha256 was given, so the hash above was computed, not checked. Pin it with:");
      ctx.output.note(`  lode pull ${refs[i]!.split("#")[0]}#sha256=${r.sha256}`);
    }
  }
  if (failure) {
    if (refs.length === 1) throw failure;
    ctx.output.exitCode = failure.exitCode;
  }
}
