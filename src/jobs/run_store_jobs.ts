/**
 * The runners of the store's jobs: model-validate-bundle re-hashes a stored model's blobs
 * (`verify_model.ts`: a mismatch is quarantined), model-materialize-bundle lays a model's files out
 * under their original names in a directory, as symlinks to the store's blobs or as copies.
 * @module
 */
import { LodeError } from "../errors.ts";
import { baseName, joinPath } from "../path.ts";
import { parseBlobRef } from "../store/layout.ts";
import { manifestBlobSizes } from "../store/manifest_blobs.ts";
import { verifyModel } from "../store/verify_model.ts";
import { type JobContext, manifestArtifact, resolveSpecPath } from "./job_context.ts";
import type { SpecOf } from "./job_spec.ts";

/** Verifies the model; a failure is the typed error `lode verify` gives. */
export async function runValidate(ctx: JobContext, spec: SpecOf<"model-validate-bundle">): Promise<unknown> {
  const manifest = await ctx.store.getManifest(spec.model);
  const total = manifestBlobSizes(manifest).reduce((n, b) => n + b.size_bytes, 0);
  ctx.progress(0, total);
  const r = await verifyModel(ctx.store, spec.model, {
    onProgress: (bytes) => {
      ctx.signal.throwIfAborted();
      ctx.progress(bytes, total);
    },
  });
  ctx.signal.throwIfAborted();
  ctx.artifact(await manifestArtifact(ctx, spec.model));
  if (!r.ok) {
    const code = r.problem === "BLOB_MISSING" || r.problem === "GGUF_INVALID" ? r.problem : "DIGEST_MISMATCH";
    const where = r.quarantinePath ? `; the bytes were moved to ${r.quarantinePath}` : "";
    throw new LodeError(code, `${spec.model}: ${r.problem ?? "DIGEST_MISMATCH"}${where}`, {
      details: { ...r },
    });
  }
  ctx.progress(r.sizeBytes, total);
  return { valid: true, size_bytes: r.sizeBytes, sha256: r.expected, files: r.files?.length ?? 1 };
}

/** Lays the model's files out in `spec.target` (created when missing; files of the same names replaced). */
export async function runMaterialize(
  ctx: JobContext,
  spec: SpecOf<"model-materialize-bundle">,
): Promise<unknown> {
  const manifest = await ctx.store.getManifest(spec.model);
  const files = manifest.files && manifest.files.length > 0
    ? manifest.files.map((f) => ({ filename: f.filename, blob: f.blob, size: f.size_bytes }))
    : [{
      filename: manifest.source.filename || `${manifest.name}.gguf`,
      blob: manifest.blob,
      size: manifest.size_bytes,
    }];
  const target = resolveSpecPath(ctx, spec.target);
  await Deno.mkdir(target, { recursive: true });
  ctx.progress(0, files.length);
  const laid: string[] = [];
  for (const [i, f] of files.entries()) {
    ctx.signal.throwIfAborted();
    const hex = parseBlobRef(f.blob);
    const name = baseName(f.filename);
    if (hex === null || name === "" || name.startsWith(".") || laid.includes(name)) {
      throw new LodeError(
        "MANIFEST_INVALID",
        `the manifest of "${spec.model}" names a bad file "${f.filename}"`,
      );
    }
    const blob = ctx.store.layout.blobPath(hex);
    if (!(await Deno.stat(blob).then(() => true, () => false))) {
      throw new LodeError(
        "BLOB_MISSING",
        `model "${spec.model}" names blob ${hex.slice(0, 12)}… which is missing`,
        {
          details: { name: spec.model, blob: f.blob, path: blob },
        },
      );
    }
    const dest = joinPath(target, name);
    const tmp = joinPath(target, `.${name}.${crypto.randomUUID()}`);
    try {
      if (spec.mode === "copy") await Deno.copyFile(blob, tmp);
      else await Deno.symlink(blob, tmp);
      await Deno.rename(tmp, dest);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
    laid.push(name);
    ctx.artifact({
      id: `file-${i}`,
      kind: "file",
      path: dest,
      media_type: mediaType(name),
      size: f.size,
      sha256: hex,
    });
    ctx.progress(i + 1, files.length, name);
  }
  ctx.artifact({
    id: "bundle",
    kind: "directory",
    path: target,
    media_type: "inode/directory",
    size: null,
    sha256: null,
  });
  return { target, mode: spec.mode, files: laid };
}

function mediaType(name: string): string {
  if (name.endsWith(".gguf")) return "application/x-gguf";
  if (name.endsWith(".json")) return "application/json";
  return "application/octet-stream";
}
