/**
 * `lode import PATH --name NAME [--sha256 HEX]`: copy a local GGUF into the store.
 * @module
 */
import type { Command } from "commander";
import { basename } from "node:path";
import { nameFromFilename } from "../../registry/mod.ts";
import { formatBytes } from "../output.ts";
import { example, type Runner } from "./common.ts";

/** Registers `import`. */
export function registerImport(program: Command, run: Runner): void {
  program.command("import")
    .description("copy a local model file into the store, hashing it on the way")
    .argument("<path>", "the file to import")
    .option("--name <name>", "model name (default: the file name without .gguf)")
    .option("--sha256 <hex>", "expected SHA-256; a mismatch quarantines the copy and fails")
    .addHelpText("after", example("lode import ./stories260K.gguf --name stories260K"))
    .action(run(async (ctx, path: string, opts: { name?: string; sha256?: string }) => {
      const store = await ctx.store();
      const name = opts.name ?? nameFromFilename(basename(path));
      const { manifest, path: blob } = await store.importFile(path, {
        name,
        expectedSha256: opts.sha256?.toLowerCase(),
        lock: { wait: ctx.flags.wait !== false },
      });
      ctx.output.event({
        event: "imported",
        name,
        blob: manifest.blob,
        size_bytes: manifest.size_bytes,
        path: blob,
      });
      ctx.output.result(`${name}  ${manifest.blob}  ${formatBytes(manifest.size_bytes)}  imported`);
    }));
}
