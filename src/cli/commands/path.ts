/**
 * `lode path NAME`: the blob path of a model, for scripts.
 * @module
 */
import type { Command } from "commander";
import { example, type Runner } from "./common.ts";

/** Registers `path`. */
export function registerPath(program: Command, run: Runner): void {
  program.command("path")
    .description("print the path of a model's verified bytes (for scripts)")
    .argument("<name>", "model name")
    .addHelpText("after", example("llama-cli -m \"$(lode path stories260K)\" -p 'Once upon a time'"))
    .action(run(async (ctx, name: string) => {
      const path = await (await ctx.store()).blobPathOf(name);
      ctx.output.event({ event: "path", name, path });
      ctx.output.result(path);
    }));
}
