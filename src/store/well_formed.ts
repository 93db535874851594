/**
 * What a model's bytes must be before a manifest names them. A manifest of format `gguf` names only
 * blobs that lode's GGUF reader (`src/gguf/read_header.ts`) accepts: the magic and a supported version,
 * every count and length within the reader's limits and inside the file, consistent tensor infos (known
 * types, whole blocks per row, aligned data packed in order) and every tensor's data ending inside the
 * file. A text file, a truncated download and a GGUF magic followed by junk all fail it; tensor data
 * that is well placed but wrong cannot be told from the header, so it passes (the sha256 pins the bytes).
 * Every file of a model is checked: split shards and mmproj projectors are GGUF files too; its text files
 * (a license, a chat template: `TEXT_FILE_ROLES` in manifest.ts) are not. A manifest of
 * another format names bytes lode does not read, and is not checked.
 *
 * A blob that fails is moved to quarantine with the reader's reason (unless another manifest of the
 * store names it: then it stays, as that model's bytes), and the manifest is refused with `GGUF_INVALID`.
 *
 * @example
 * ```ts
 * import { StoreLayout } from "./layout.ts";
 * import { refuseMalformed } from "./well_formed.ts";
 * declare const manifest: import("./manifest.ts").Manifest;
 * const layout = new StoreLayout("/srv/models");
 * await refuseMalformed(layout, manifest, { referenced: () => Promise.resolve(new Set<string>()) });
 * ```
 * @module
 */
import { isLodeError, LodeError } from "../errors.ts";
import { readGgufHeader } from "../gguf/read_header.ts";
import { baseName } from "../path.ts";
import { parseBlobRef, type StoreLayout } from "./layout.ts";
import { isTextRole, type Manifest } from "./manifest.ts";
import { quarantineFile } from "./quarantine.ts";
import { forgetVerified } from "./verified_record.ts";

/** The format whose bytes lode reads, checks and runs. */
export const GGUF_FORMAT = "gguf";

/** The hint of a refused model file: what to do, and what a file of another format needs. */
const REFUSED_HINT = "lode stores a model only as a well-formed GGUF file: pull it again (a truncated " +
  "download is refused too) or convert it. A file of another format is imported with " +
  '`lode import PATH --format NAME` (or pinned with a "format" in lode.lock), and is not checked.';

/**
 * The `GGUF_INVALID` error of the file at `path` (named `label` in the message), or null when its
 * header reads. Any other failure (the file cannot be opened) rejects.
 *
 * @example
 * ```ts
 * import { ggufProblem } from "./well_formed.ts";
 * const problem = await ggufProblem("tests/fixtures/stories260K.gguf", "stories260K.gguf"); // null
 * ```
 */
export async function ggufProblem(path: string, label: string): Promise<LodeError | null> {
  try {
    await readGgufHeader(path, { label });
    return null;
  } catch (e) {
    if (isLodeError(e, "GGUF_INVALID")) return e;
    throw e;
  }
}

/** One blob of a manifest, with the name and origin of its file. */
interface NamedBlob {
  hex: string;
  filename: string;
  url?: string;
}

/** Every blob of `manifest` in its format once (its text files left out), with its file's name (the primary one first). */
function namedBlobs(manifest: Manifest): NamedBlob[] {
  const files = manifest.files?.length
    ? manifest.files.filter((f) => !isTextRole(f.role)).map((f) => ({
      ref: f.blob,
      filename: f.filename,
      url: f.url,
    }))
    : [{ ref: manifest.blob, filename: manifest.source.filename || manifest.name, url: manifest.source.url }];
  const seen = new Map<string, NamedBlob>();
  for (const f of files) {
    const hex = parseBlobRef(f.ref);
    if (hex && !seen.has(hex)) seen.set(hex, { hex, filename: baseName(f.filename), url: f.url });
  }
  return [...seen.values()];
}

/** Options of {@link refuseMalformed}. */
export interface RefuseMalformedOptions {
  /** Where the bytes came from, for the quarantine record (default: each file's URL, else its name). */
  origin?: string;
  /** Every blob the store's manifests name now (a bad blob among them is not quarantined). */
  referenced: () => Promise<Set<string>>;
}

/**
 * Rejects with `GGUF_INVALID` when `manifest` is of format `gguf` and a blob it names is not a
 * well-formed GGUF file; each such blob no manifest names is moved to quarantine first. Resolves for a
 * manifest of another format, and for one whose every blob reads. The caller holds the blob locks and
 * has committed the blobs.
 *
 * @example
 * ```ts
 * import { StoreLayout } from "./layout.ts";
 * import { refuseMalformed } from "./well_formed.ts";
 * declare const manifest: import("./manifest.ts").Manifest;
 * await refuseMalformed(new StoreLayout("/srv/models"), manifest, {
 *   origin: "./notes.txt",
 *   referenced: () => Promise.resolve(new Set<string>()),
 * });
 * ```
 */
export async function refuseMalformed(
  layout: StoreLayout,
  manifest: Manifest,
  options: RefuseMalformedOptions,
): Promise<void> {
  if (manifest.format !== GGUF_FORMAT) return;
  const bad: { blob: NamedBlob; problem: LodeError }[] = [];
  for (const blob of namedBlobs(manifest)) {
    const problem = await ggufProblem(layout.blobPath(blob.hex), blob.filename);
    if (problem) bad.push({ blob, problem });
  }
  if (bad.length === 0) return;
  const referenced = await options.referenced();
  const moved: (string | null)[] = [];
  for (const { blob, problem } of bad) {
    if (referenced.has(blob.hex)) {
      moved.push(null);
      continue;
    }
    await forgetVerified(layout, blob.hex);
    const q = await quarantineFile(layout, layout.blobPath(blob.hex), {
      expected: blob.hex,
      actual: blob.hex,
      source: options.origin ?? blob.url ?? blob.filename,
      reason: "gguf_invalid",
      problem: problem.message,
      name: manifest.name,
    });
    await Deno.remove(layout.blobDir(blob.hex), { recursive: true }).catch(() => {});
    moved.push(q.path);
  }
  const [first] = bad as [(typeof bad)[0]];
  const where = moved[0]
    ? `its bytes were moved to ${moved[0]}`
    : "its blob stays: another model in the store names it";
  throw new LodeError(
    "GGUF_INVALID",
    `"${manifest.name}" was not stored: ${first.problem.message}; ${where}`,
    {
      details: {
        name: manifest.name,
        filename: first.blob.filename,
        blob: `sha256:${first.blob.hex}`,
        ...(typeof first.problem.details.offset === "number" ? { offset: first.problem.details.offset } : {}),
        ...(moved[0] ? { quarantine_path: moved[0] } : {}),
        ...(bad.length > 1 ? { invalid_files: bad.map((b) => b.blob.filename) } : {}),
      },
      hint: REFUSED_HINT,
      cause: first.problem,
    },
  );
}
