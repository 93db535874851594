/**
 * `lode pull REF… [--name N] [--sha256 HEX]`: download, verify and store models.
 * @module
 */
import type { Command } from "commander";
import { LodeError } from "../../errors.ts";
import { pullModel, type PullResult } from "../../download/mod.ts";
import { parseRef, resolvePlan } from "../../registry/mod.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";
import { example, type Runner } from "./common.ts";

/** Pulls one reference (URL or stored name) and returns the result. Shared with `lode run`. */
export async function pullRef(
  ctx: CommandContext,
  ref: string,
  options: { name?: string; sha256?: string },
): Promise<PullResult> {
  const parsed = parseRef(ref);
  const store = await ctx.store();
  const plan = await resolvePlan(parsed, { store, name: options.name, sha256: options.sha256 });
  const pull = await ctx.pullContext([plan.url]);
  try {
    return await pullModel(plan, pull);
  } catch (e) {
    if (e instanceof LodeError) ctx.output.errorReported = ctx.output.json;
    throw e;
  } finally {
    pull.finish();
  }
}

/** Registers `pull`. */
export function registerPull(program: Command, run: Runner): void {
  program.command("pull")
    .description("download models into the store, verifying their SHA-256 while the bytes arrive")
    .argument("<ref...>", "https URL (optionally #sha256=HEX) or the name of a stored model to re-fetch")
    .option("--name <name>", "store the model under this name (default: the file name without .gguf)")
    .option("--sha256 <hex>", "expected SHA-256; a mismatch quarantines the bytes and fails")
    .addHelpText(
      "after",
      example(
        "lode pull https://example.com/m/stories260K.gguf#sha256=270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d",
        "lode pull https://example.com/m.gguf --name tiny --json",
      ),
    )
    .action(run(async (ctx, refs: string[], opts: { name?: string; sha256?: string }) => {
      if (refs.length > 1 && (opts.name || opts.sha256)) {
        throw new LodeError("USAGE", "--name and --sha256 apply to a single reference");
      }
      for (const ref of refs) {
        const r = await pullRef(ctx, ref, opts);
        const how = r.cached ? "already present" : r.pinned ? "verified" : "downloaded";
        ctx.output.result(`${r.name}  sha256:${r.sha256}  ${formatBytes(r.sizeBytes)}  ${how}`);
        if (!r.pinned && !r.cached) {
          ctx.output.note(
            `note: no sha256 was given, so the hash above was computed, not checked. Pin it with:`,
          );
          ctx.output.note(`  lode pull ${ref.split("#")[0]}#sha256=${r.sha256}`);
        }
      }
    }));
}
