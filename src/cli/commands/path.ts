/**
 * `lode path NAME`: the path of a model's verified bytes, for scripts (for a model of several
 * files, its primary file's link in `links/NAME/`, beside its siblings under their original names).
 * @module
 */
import type { PathEvent } from "../../events/store_event.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";

/** `lode path`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const name = parsed.args.name as string;
  const path = await (await ctx.store()).modelPathOf(name);
  ctx.emit("store", { event: "path", name, path } satisfies PathEvent);
  ctx.output.result(path);
}
