/**
 * `lode path NAME`: the blob path of a model, for scripts.
 * @module
 */
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";

/** `lode path`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const name = parsed.args.name as string;
  const path = await (await ctx.store()).blobPathOf(name);
  ctx.output.event({ event: "path", name, path });
  ctx.output.result(path);
}
