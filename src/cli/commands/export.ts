/**
 * `lode export NAME FILE`: write a model (manifest, every blob, their hashes) as a tar bundle for a
 * machine without network; `FILE` `-` is stdout (events and notes then go to stderr).
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { BundleBlobEvent, ExportedEvent } from "../../events/store_event.ts";
import {
  EXPORT_SPACE_HINT,
  exportBundle,
  exportBundleToFile,
  type ExportResult,
} from "../../store/bundle_export.ts";
import { parentDir } from "../../path.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";

/** `lode export`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const name = parsed.args.name as string;
  const file = parsed.args.file as string;
  const toStdout = file === "-";
  if (toStdout && ctx.output.stdoutIsTty) {
    throw new LodeError("USAGE", "refusing to write a bundle to a terminal", {
      hint: `Redirect stdout (\`lode export ${name} - > ${name}.lode\`, or pipe it), or name a FILE.`,
    });
  }
  // With FILE "-" stdout carries the bundle: the `--json` lines (its failure's `error` too) go to stderr.
  if (toStdout) ctx.output.eventsTo = "stderr";
  const emit = (event: BundleBlobEvent | ExportedEvent) => ctx.emit("store", event);
  const sink = { write: (bytes: Uint8Array) => ctx.output.bytes(bytes) };
  const store = await ctx.store();
  const started = performance.now();
  const progress = progressLine(ctx);
  const options = {
    lock: { wait: ctx.flags.wait !== false },
    preflight: toStdout ? undefined : (bundleBytes: number) => refuseIfNoRoom(file, bundleBytes),
    onProgress: ctx.output.sink(progress.update),
    onBlob: ctx.output.sink((b: { sha256: string; size_bytes: number }) =>
      emit({ event: "bundle_blob", name, sha256: b.sha256, size_bytes: b.size_bytes })
    ),
  };
  let result: ExportResult;
  try {
    result = toStdout
      ? await exportBundle(store, name, { ...options, sink })
      : await exportBundleToFile(store, name, file, options);
  } catch (e) {
    if (!ctx.output.closed.aborted) progress.end(); // else nothing more is printed
    throw e;
  }
  progress.end();
  const ms = Math.round(performance.now() - started);
  emit({
    event: "exported",
    name,
    file,
    blob: result.manifest.blob,
    blobs: result.blobs.length,
    bundle_bytes: result.bundleBytes,
    ms,
  });
  const line = `exported ${name} to ${toStdout ? "stdout" : file} (${result.blobs.length} blob${
    result.blobs.length === 1 ? "" : "s"
  }, ${formatBytes(result.bundleBytes)}) in ${ms} ms`;
  if (toStdout) ctx.output.note(line);
  else ctx.output.result(line);
}

/** Refuses, before a byte is written, a bundle larger than the free space where `file` goes. */
async function refuseIfNoRoom(file: string, bundleBytes: number): Promise<void> {
  const { freeBytes } = await import("../../download/disk_space.ts");
  const available = await freeBytes(parentDir(file));
  if (available === null || available >= bundleBytes) return;
  throw new LodeError(
    "INSUFFICIENT_SPACE",
    `not enough disk space for ${file}: the bundle is ${formatBytes(bundleBytes)}, ${
      formatBytes(available)
    } free there`,
    {
      details: { path: file, needed_bytes: bundleBytes, available_bytes: available },
      hint: EXPORT_SPACE_HINT,
    },
  );
}

/** A one-line percentage on a terminal's stderr, redrawn at most every 200 ms. */
function progressLine(ctx: CommandContext) {
  const live = ctx.output.stderrIsTty && !ctx.output.json && !ctx.output.quiet;
  let last = 0;
  let drawn = false;
  return {
    update(done: number, total: number) {
      const now = performance.now();
      if (!live || now - last < 200) return;
      last = now;
      drawn = true;
      ctx.output.stderr(`\r  exporting ${Math.floor((100 * done) / total)}% of ${formatBytes(total)}\x1b[K`);
    },
    end() {
      if (drawn) ctx.output.stderr("\r\x1b[K");
      drawn = false;
    },
  };
}
