/**
 * `lode rm NAME…`: remove models; a blob goes when no other manifest refers to it.
 * @module
 */
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";

/** `lode rm`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const store = await ctx.store();
  for (const name of parsed.args.name as string[]) {
    const { blobRemoved } = await store.remove(name, { wait: ctx.flags.wait !== false });
    ctx.output.event({ event: "removed", name, blob_removed: blobRemoved });
    ctx.output.result(`removed ${name}${blobRemoved ? "" : " (blob kept: another model uses it)"}`);
  }
}
