/**
 * `lode ls`: the models in the store (name, size, short digest, format, source; `--json`: the stored
 * license file's name too, `license_file`).
 * @module
 */
import type { ModelEvent, ProblemEvent } from "../../events/store_event.ts";
import type { Manifest } from "../../store/manifest.ts";
import { blobHex } from "../../store/manifest_blobs.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";

/** `row` with the name of `m`'s stored license file, when it has one. */
function licensed<T extends object>(m: Manifest, row: T): T & { license_file?: string } {
  const license = m.files?.find((f) => f.role === "license");
  return license ? { ...row, license_file: license.filename } : row;
}

/** `lode ls`. */
export async function run(ctx: CommandContext, _parsed: ParsedArgv): Promise<void> {
  const { models, problems } = await (await ctx.store()).list();
  const rows = models.map((m) =>
    licensed(m, {
      name: m.name,
      size_bytes: m.size_bytes,
      digest: m.blob,
      format: m.format,
      source: m.source.url ?? (m.source.repo ? `${m.source.registry}:${m.source.repo}` : m.source.registry),
      pinned: m.pinned ?? true,
    })
  );
  for (const row of rows) ctx.emit("store", { event: "model", ...row } satisfies ModelEvent);
  for (const p of problems) ctx.emit("store", { event: "problem", ...p.toJSON() } satisfies ProblemEvent);
  if (!ctx.output.json) {
    const table = [["NAME", "SIZE", "DIGEST", "FORMAT", "SOURCE"]].concat(
      rows.map((
        r,
        i,
      ) => [r.name, formatBytes(r.size_bytes), blobHex(models[i]!).slice(0, 12), r.format, r.source]),
    );
    const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
    for (const row of table) {
      ctx.output.result(row.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd());
    }
    for (const p of problems) ctx.output.error(p);
  }
  if (problems.length > 0) ctx.output.exitCode = problems[0]!.exitCode;
}
