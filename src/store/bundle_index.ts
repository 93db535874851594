/**
 * What a model bundle holds, and the checks an imported one must pass before
 * a byte is written. A bundle is a plain tar:
 *
 * ```text
 * lode-bundle.json        {"lode_bundle":1,"manifest":{…},"blobs":[{"sha256":…,"size_bytes":…}]}
 * SHA256SUMS              "<hex>  blobs/sha256/<hex>" per blob, for `sha256sum -c`
 * blobs/sha256/<hex>      the bytes of every blob of the model (main blob and every `files` entry)
 * ```
 * @module
 */
import { z } from "zod";
import { LodeError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { checkSchema, parseJsonText } from "../schema/schema_error.ts";
import { Manifest } from "./manifest.ts";
import { manifestBlobSizes } from "./manifest_blobs.ts";

/** The first entry of every bundle. */
export const BUNDLE_INDEX_PATH = "lode-bundle.json";
/** The second entry: checksums in `sha256sum` format. */
export const BUNDLE_SUMS_PATH = "SHA256SUMS";
/** The bundle format version this lode writes and reads. */
const BUNDLE_VERSION = 1;
/** Upper bound on the index entry (a manifest and a list of blobs). */
export const MAX_INDEX_BYTES = 1024 * 1024;

const BundleBlob = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits"),
  size_bytes: z.number().int().nonnegative(),
});
/** One blob of a bundle. */
export type BundleBlob = z.infer<typeof BundleBlob>;

const BundleIndexSchema = z.object({
  lode_bundle: z.number().int(),
  produced_by: z.string().optional(),
  manifest: Manifest,
  blobs: z.array(BundleBlob).min(1),
});

/** The index entry of a bundle. */
export interface BundleIndex {
  lode_bundle: number;
  produced_by: string;
  manifest: Manifest;
  blobs: BundleBlob[];
}

/** The path of a blob inside a bundle. */
export function blobEntryPath(hex: string): string {
  return `blobs/sha256/${hex}`;
}

/** The index of a bundle of `manifest`. */
export function bundleIndexFor(manifest: Manifest): BundleIndex {
  return {
    lode_bundle: BUNDLE_VERSION,
    produced_by: `lode/${VERSION}`,
    manifest,
    blobs: manifestBlobSizes(manifest),
  };
}

/** The `SHA256SUMS` text of a bundle's blobs. */
export function sumsText(blobs: BundleBlob[]): string {
  return blobs.map((b) => `${b.sha256}  ${blobEntryPath(b.sha256)}\n`).join("");
}

/**
 * Parses and checks an index entry: a known format version, a valid manifest, and a blob list that
 * is exactly the manifest's blobs with the manifest's sizes (`BUNDLE_INVALID` naming the line and the
 * field of the index that is wrong, `MANIFEST_INVALID` for a manifest that disagrees with the list).
 */
export function parseBundleIndex(bytes: Uint8Array, label: string): BundleIndex {
  const invalid = (problem: string, hint?: string) =>
    new LodeError("BUNDLE_INVALID", `${label} is not a valid lode bundle: ${problem}`, {
      details: { bundle: label },
      hint,
    });
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalid(`${BUNDLE_INDEX_PATH} is not UTF-8 text`);
  }
  const boundary = {
    code: "BUNDLE_INVALID",
    subject: `${label}: ${BUNDLE_INDEX_PATH}`,
    file: `${label}:${BUNDLE_INDEX_PATH}`,
    details: { bundle: label },
  } as const;
  const raw = parseJsonText(text, boundary);
  const version = (raw as { lode_bundle?: unknown } | null)?.lode_bundle;
  if (typeof version === "number" && version !== BUNDLE_VERSION) {
    throw invalid(
      `it is bundle format ${version}; this lode reads format ${BUNDLE_VERSION}`,
      "Import it with the lode version that exported it, or export it again with this one.",
    );
  }
  const parsed = checkSchema(BundleIndexSchema, raw, boundary, text);
  const manifest = parsed.manifest;
  const declared = new Map<string, number>();
  for (const b of parsed.blobs) {
    if (declared.has(b.sha256)) throw invalid(`blob ${b.sha256} is listed twice`);
    declared.set(b.sha256, b.size_bytes);
  }
  const expected = manifestBlobSizes(manifest);
  for (const b of expected) {
    const size = declared.get(b.sha256);
    if (size === undefined) {
      throw new LodeError(
        "MANIFEST_INVALID",
        `${label}: the manifest names blob ${b.sha256.slice(0, 12)}…, which the bundle does not list`,
        { details: { bundle: label, blob: b.sha256 } },
      );
    }
    if (size !== b.size_bytes) {
      throw new LodeError(
        "MANIFEST_INVALID",
        `${label}: the manifest says blob ${
          b.sha256.slice(0, 12)
        }… is ${b.size_bytes} bytes, the bundle lists ${size}`,
        {
          details: { bundle: label, blob: b.sha256, manifest_bytes: b.size_bytes, listed_bytes: size },
          hint: "The bundle's manifest was altered or damaged; export the model again.",
        },
      );
    }
  }
  if (declared.size !== expected.length) {
    throw invalid("it lists blobs that its manifest does not reference");
  }
  return {
    lode_bundle: BUNDLE_VERSION,
    produced_by: parsed.produced_by ?? "",
    manifest,
    blobs: expected,
  };
}
