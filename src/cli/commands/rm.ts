/**
 * `lode rm NAME…`: remove models; a blob goes when no other manifest refers to it.
 * @module
 */
import type { RemovedEvent } from "../../events/store_event.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";

/** `lode rm`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const store = await ctx.store();
  for (const name of parsed.args.name as string[]) {
    const r = await store.remove(name, { wait: ctx.flags.wait !== false });
    const removed: RemovedEvent = {
      event: "removed",
      name,
      blob_removed: r.blobRemoved,
      blobs_removed: r.blobsRemoved,
      blobs_kept: r.blobsKept,
    };
    ctx.emit("store", removed);
    const kept = r.blobsKept === 0
      ? ""
      : r.blobsKept === 1 && r.blobsRemoved === 0
      ? " (blob kept: another model uses it)"
      : ` (${r.blobsKept} blob${r.blobsKept > 1 ? "s" : ""} kept: another model uses them)`;
    ctx.output.result(`removed ${name}${kept}`);
  }
}
