/**
 * `lode import PATH [--name NAME] [--sha256 HEX] [--format FORMAT]`: copy a local GGUF into the store, or
 * import a bundle made by `lode export` (recognised by its content, whatever its name; `-` reads a bundle
 * from stdin). A file of format `gguf` (the default) must be a well-formed GGUF model (`GGUF_INVALID`
 * otherwise, the copy quarantined); a file of another format (`--format json`) is stored unread.
 * @module
 */
import { LodeError, toLodeError } from "../../errors.ts";
import type { BundleBlobEvent, ImportedEvent } from "../../events/store_event.ts";
import { nameFromFilename } from "../../registry/reference.ts";
import { importModelFile } from "../../store/import_file.ts";
import { type ByteSource, TarReader } from "../../store/bundle_tar_reader.ts";
import { importBundle, looksLikeTar } from "../../store/bundle_import.ts";
import type { ModelStore } from "../../store/model_store.ts";
import { parseBlobRef } from "../../store/layout.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";

/** `lode import`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const path = parsed.args.path as string;
  const store = await ctx.store();
  const fromStdin = path === "-";
  let file: Deno.FsFile | null = null;
  if (!fromStdin) {
    file = await Deno.open(path, { read: true }).catch((e) => {
      throw e instanceof Deno.errors.NotFound
        ? new LodeError("FILE_NOT_FOUND", `no such file: ${path}`, {
          details: { path },
          hint: "Give the path of a GGUF file or of a bundle made by `lode export`.",
        })
        : toLodeError(e, "IO");
    });
  }
  try {
    const tar = new TarReader((file ?? Deno.stdin) as ByteSource, fromStdin ? "stdin" : path);
    if (await looksLikeTar(tar)) return await runBundle(ctx, parsed, { store, tar, path });
  } finally {
    file?.close();
  }
  if (fromStdin) {
    throw new LodeError("USAGE", "stdin is not a lode bundle", {
      hint: "`lode import -` reads a bundle made by `lode export`; import a GGUF file by its path.",
    });
  }
  const name = (parsed.options.name as string | undefined) ?? nameFromFilename(path.split("/").pop() ?? path);
  const { manifest, path: blob } = await importModelFile(store, path, {
    name,
    format: formatOption(parsed.options.format),
    expectedSha256: (parsed.options.sha256 as string | undefined)?.toLowerCase(),
    lock: { wait: ctx.flags.wait !== false },
  });
  const imported: ImportedEvent = {
    event: "imported",
    name,
    blob: manifest.blob,
    size_bytes: manifest.size_bytes,
    path: blob,
  };
  ctx.emit("store", imported);
  ctx.output.result(`${name}  ${manifest.blob}  ${formatBytes(manifest.size_bytes)}  imported`);
}

/** `--format`: a lowercase word (`gguf`, `json`, `safetensors`); undefined: gguf. */
function formatOption(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && /^[a-z0-9][a-z0-9._-]{0,31}$/.test(value)) return value;
  throw new LodeError("USAGE", `--format must be a lowercase word such as gguf or json, got "${value}"`, {
    details: { format: value },
  });
}

async function runBundle(
  ctx: CommandContext,
  parsed: ParsedArgv,
  input: { store: ModelStore; tar: TarReader; path: string },
): Promise<void> {
  if (parsed.options.sha256 !== undefined) {
    throw new LodeError("USAGE", `${input.path} is a bundle: it carries its own hashes`, {
      hint: "Drop --sha256; every blob of a bundle is checked against the hash its index records.",
    });
  }
  if (parsed.options.format !== undefined) {
    throw new LodeError("USAGE", `${input.path} is a bundle: its manifest records the model's format`, {
      hint: "Drop --format; a bundle is imported with the format it was exported with.",
    });
  }
  const { checkDiskSpace } = await import("../../download/disk_space.ts");
  const started = performance.now();
  const r = await importBundle(input.store, input.tar, {
    name: parsed.options.name as string | undefined,
    lock: { wait: ctx.flags.wait !== false },
    preflight: (neededBytes) =>
      checkDiskSpace(input.store.layout.blobsDir, { neededBytes, cushionBytes: ctx.config.cushionBytes }),
    onBlob: ctx.output.sink((b) => {
      const event: BundleBlobEvent = {
        event: "bundle_blob",
        sha256: b.sha256,
        size_bytes: b.size_bytes,
        cached: b.cached,
      };
      ctx.emit("store", event);
      ctx.output.note(
        `  sha256:${b.sha256.slice(0, 12)}  ${formatBytes(b.size_bytes)}  ${
          b.cached ? "already in the store" : "verified"
        }`,
      );
    }),
  });
  const m = r.manifest;
  const written = r.blobs.filter((b) => !b.cached).length;
  const imported: ImportedEvent = {
    event: "imported",
    name: m.name,
    blob: m.blob,
    size_bytes: m.size_bytes,
    path: input.store.layout.blobPath(parseBlobRef(m.blob)!),
    bundle: input.path,
    blobs: r.blobs.length,
    blobs_written: written,
    already_present: r.alreadyPresent,
    replaced: r.replaced,
    ms: Math.round(performance.now() - started),
  };
  ctx.emit("store", imported);
  const what = r.alreadyPresent
    ? "already in the store: nothing to do"
    : `imported (${written} of ${r.blobs.length} blob${r.blobs.length === 1 ? "" : "s"} written)` +
      (r.replaced ? `; replaced ${r.replaced.slice(0, 19)}…, \`lode gc\` frees it` : "");
  ctx.output.result(`${m.name}  ${m.blob}  ${formatBytes(m.size_bytes)}  ${what}`);
}
