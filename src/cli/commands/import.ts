/**
 * `lode import PATH [--name NAME] [--sha256 HEX]`: copy a local GGUF into the store.
 * @module
 */
import { nameFromFilename } from "../../registry/mod.ts";
import { importModelFile } from "../../store/import_file.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";

/** `lode import`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const path = parsed.args.path as string;
  const store = await ctx.store();
  const name = (parsed.options.name as string | undefined) ?? nameFromFilename(path.split("/").pop() ?? path);
  const { manifest, path: blob } = await importModelFile(store, path, {
    name,
    expectedSha256: (parsed.options.sha256 as string | undefined)?.toLowerCase(),
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
}
