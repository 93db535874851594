/**
 * `lode rm NAME…`: remove models; a blob goes when no other manifest refers to it.
 * @module
 */
import type { Command } from "commander";
import { example, type Runner } from "./common.ts";

/** Registers `rm`. */
export function registerRm(program: Command, run: Runner): void {
  program.command("rm")
    .alias("remove")
    .description("remove models from the store (their blobs too, when nothing else refers to them)")
    .argument("<name...>", "model names, as `lode ls` shows them")
    .addHelpText("after", example("lode rm stories260K"))
    .action(run(async (ctx, names: string[]) => {
      const store = await ctx.store();
      for (const name of names) {
        const { blobRemoved } = await store.remove(name, { wait: ctx.flags.wait !== false });
        ctx.output.event({ event: "removed", name, blob_removed: blobRemoved });
        ctx.output.result(`removed ${name}${blobRemoved ? "" : " (blob kept: another model uses it)"}`);
      }
    }));
}
