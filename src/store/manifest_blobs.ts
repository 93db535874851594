/**
 * The blobs a manifest names: its main blob, then each of its extra files, with their sizes — the one
 * definition of "the blobs a model needs" (rm, verify, gc, export and import all use it).
 *
 * @example
 * ```ts
 * import { blobHex, manifestBlobs } from "./manifest_blobs.ts";
 * import type { Manifest } from "./manifest.ts";
 * declare const manifest: Manifest;
 * manifestBlobs(manifest)[0] === blobHex(manifest); // true
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { parseBlobRef } from "./layout.ts";
import type { Manifest } from "./manifest.ts";

/** One blob a manifest names, with its size. */
export interface ManifestBlob {
  sha256: string;
  size_bytes: number;
}

/**
 * Every blob a manifest names — its `blob`, then each of its `files` — once each, with its size;
 * `MANIFEST_INVALID` for a bad reference or a blob given two sizes. The one definition of "the blobs
 * a model needs" (rm, verify, gc, export and import all use it).
 */
export function manifestBlobSizes(manifest: Manifest): ManifestBlob[] {
  const sizes = new Map<string, number>();
  const add = (ref: string, size: number) => {
    const hex = parseBlobRef(ref);
    if (!hex) throw new LodeError("MANIFEST_INVALID", `manifest of "${manifest.name}" has a bad blob ${ref}`);
    const known = sizes.get(hex);
    if (known !== undefined && known !== size) {
      throw new LodeError(
        "MANIFEST_INVALID",
        `manifest of "${manifest.name}" gives blob ${
          hex.slice(0, 12)
        }… two sizes, ${known} and ${size} bytes`,
        { details: { name: manifest.name, blob: ref } },
      );
    }
    sizes.set(hex, size);
  };
  add(manifest.blob, manifest.size_bytes);
  for (const f of manifest.files ?? []) add(f.blob, f.size_bytes);
  return [...sizes].map(([sha256, size_bytes]) => ({ sha256, size_bytes }));
}

/** Every blob a manifest names, the primary first, without repeats ({@link manifestBlobSizes}). */
export function manifestBlobs(manifest: Manifest): string[] {
  return manifestBlobSizes(manifest).map((b) => b.sha256);
}

/** The hex digest of a manifest's main blob. */
export function blobHex(manifest: Manifest): string {
  const hex = parseBlobRef(manifest.blob);
  if (!hex) {
    throw new LodeError("MANIFEST_INVALID", `manifest of "${manifest.name}" has a bad blob reference`);
  }
  return hex;
}
