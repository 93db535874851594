/**
 * `lode pull REF… [--name N] [--sha256 HEX] [--mirror URL]… [--socket S] [--detach]`: download, verify and
 * store models, here or (`--socket`, `--detach`) as download jobs in the daemon.
 * @module
 */
import { LodeError, toLodeError } from "../../errors.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";
import { pullRef } from "../pull_ref.ts";

/** `lode pull`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const refs = parsed.args.ref as string[];
  const name = parsed.options.name as string | undefined;
  const sha256 = parsed.options.sha256 as string | undefined;
  const mirrors = parsed.options.mirror as string[] | undefined;
  if (refs.length > 1 && (name || sha256 || mirrors?.length)) {
    throw new LodeError("USAGE", "--name, --sha256 and --mirror apply to a single reference");
  }
  const socket = parsed.options.socket as string | undefined;
  const detach = parsed.options.detach === true;
  let results;
  if (socket !== undefined || detach) {
    if (mirrors?.length) {
      throw new LodeError(
        "USAGE",
        "--mirror applies to a pull in this process, not with --socket or --detach",
      );
    }
    // A download job in the daemon (src/cli/daemon_pull.ts): it survives this client.
    const { pullInDaemon } = await import("../daemon_pull.ts");
    results = await pullInDaemon(ctx, refs, { name, sha256, socket, detach });
  } else {
    // Every model at once, under one global connection budget; each result (or error) in the order given.
    results = await Promise.allSettled(refs.map((ref) => pullRef(ctx, ref, { name, sha256, mirrors })));
    await ctx.endProgress();
  }
  let failure: LodeError | null = null;
  for (const [i, settled] of results.entries()) {
    if (settled.status === "rejected") {
      const error = toLodeError(settled.reason);
      failure ??= error;
      if (refs.length > 1) ctx.error(error);
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
