/**
 * `lode import BUNDLE`: reads a bundle made by `lode export` from a file or
 * stdin, in one pass with bounded memory. The index is checked first (format,
 * manifest, blob list and sizes agree) before a byte is written; then every
 * blob is streamed through the hashing writer into its partial directory under
 * its blob lock, compared in constant time and committed; the manifest is
 * written last. A damaged, truncated or foreign bundle fails with a typed
 * error (`BUNDLE_INVALID`, `DIGEST_MISMATCH`, `SIZE_MISMATCH`,
 * `MANIFEST_INVALID`) and leaves the store as it was, apart from blobs that
 * were fully verified (unreferenced, so `lode gc` collects them). A `gguf`
 * model whose blob is not a well-formed GGUF file is refused (`GGUF_INVALID`)
 * and that blob quarantined.
 * @module
 */
import { LodeError } from "../errors.ts";
import { BLOCK, hasTarMagic } from "./bundle_tar_header.ts";
import type { TarReader } from "./bundle_tar_reader.ts";
import {
  BUNDLE_INDEX_PATH,
  BUNDLE_SUMS_PATH,
  type BundleBlob,
  type BundleIndex,
  MAX_INDEX_BYTES,
  parseBundleIndex,
  sumsText,
} from "./bundle_index.ts";
import { createHash } from "node:crypto";
import { digestsEqual, HASH_READ_BYTES } from "./hash.ts";
import { HashingWriter } from "./hashing_writer.ts";
import { assertModelName } from "./layout.ts";
import type { Manifest } from "./manifest.ts";
import type { LockWaitOptions, ModelStore } from "./model_store.ts";
import type { FileLock } from "./file_lock.ts";

/** Options of {@link importBundle}. */
export interface BundleImportOptions {
  /** Store the model under this name instead of the bundle's. */
  name?: string;
  lock?: LockWaitOptions;
  /** Called with the bytes about to be written, before the first one is (a disk-space check). */
  preflight?: (neededBytes: number) => Promise<void>;
  /** Called after each blob is verified and committed (or found already in the store). */
  onBlob?: (blob: ImportedBlob) => void;
  /** Called as bytes are read, with the bundle offset reached. */
  onProgress?: (bundleBytes: number) => void;
}

/** One blob of an imported bundle. */
export interface ImportedBlob extends BundleBlob {
  /** True when the store already had it and nothing was written. */
  cached: boolean;
}

/** What an import did. */
export interface BundleImportResult {
  manifest: Manifest;
  blobs: ImportedBlob[];
  /** True when the same model was already in the store under that name: nothing changed. */
  alreadyPresent: boolean;
  /** The blob the name pointed at before, when the import replaced a different model. */
  replaced: string | null;
}

/**
 * True when the source starts like a tar (the ustar magic; a bad checksum is then `BUNDLE_INVALID`
 * rather than a reason to import the archive as a model file).
 */
export async function looksLikeTar(tar: TarReader): Promise<boolean> {
  const head = await tar.peek(BLOCK);
  return head.length === BLOCK && hasTarMagic(head);
}

/** Imports the bundle read by `tar` into the store. */
export async function importBundle(
  store: ModelStore,
  tar: TarReader,
  options: BundleImportOptions = {},
): Promise<BundleImportResult> {
  const first = await tar.next();
  if (!first || normalize(first.path) !== BUNDLE_INDEX_PATH || first.type !== "0") {
    if (first) refuseUnsafe(tar, first.path);
    throw tar.invalid(
      `it is a tar archive, but its first entry is ${
        first ? `"${first.path}"` : "missing"
      }, not ${BUNDLE_INDEX_PATH}`,
      "Only bundles made by `lode export` can be imported; a bare GGUF file is imported as is.",
    );
  }
  const index = parseBundleIndex(await tar.bodyBytes(MAX_INDEX_BYTES), tar.label);
  const name = assertModelName(options.name ?? index.manifest.name);
  const manifest: Manifest = { ...index.manifest, name };
  await using _nameLock = await store.lockName(name, options.lock);
  const existing = await store.readManifest(name).catch(() => null);
  const sameModel = existing !== null && blobSetKey(existing) === blobSetKey(manifest);
  if (sameModel && (await Promise.all(index.blobs.map((b) => store.hasBlob(b.sha256)))).every(Boolean)) {
    return {
      manifest: existing,
      blobs: index.blobs.map((b) => ({ ...b, cached: true })),
      alreadyPresent: true,
      replaced: null,
    };
  }
  const locks: FileLock[] = [];
  try {
    for (const b of [...index.blobs].sort((x, y) => x.sha256.localeCompare(y.sha256))) {
      locks.push(await store.lockBlob(b.sha256, options.lock));
    }
    const present = new Set<string>();
    for (const b of index.blobs) if (await store.hasBlob(b.sha256)) present.add(b.sha256);
    await options.preflight?.(
      index.blobs.reduce((n, b) => n + (present.has(b.sha256) ? 0 : b.size_bytes), 0),
    );
    const blobs = await readBlobs(store, tar, { index, present, options });
    await store.saveManifest(manifest, { origin: tar.label });
    return {
      manifest,
      blobs,
      alreadyPresent: false,
      replaced: existing && !sameModel ? existing.blob : null,
    };
  } finally {
    for (const lock of locks.reverse()) await lock.release();
  }
}

/** Reads every remaining entry: the checksums, then each listed blob exactly once, then the end marker. */
async function readBlobs(
  store: ModelStore,
  tar: TarReader,
  ctx: { index: BundleIndex; present: Set<string>; options: BundleImportOptions },
): Promise<ImportedBlob[]> {
  const declared = new Map(ctx.index.blobs.map((b) => [b.sha256, b.size_bytes]));
  const done: ImportedBlob[] = [];
  for (let entry = await tar.next(); entry; entry = await tar.next()) {
    refuseUnsafe(tar, entry.path);
    const path = normalize(entry.path);
    if (entry.type === "5") continue;
    if (entry.type !== "0") {
      throw tar.invalid(`entry "${entry.path}" is of tar type ${entry.type}, not a file`);
    }
    if (path === BUNDLE_SUMS_PATH) {
      const sums = new TextDecoder().decode(await tar.bodyBytes(MAX_INDEX_BYTES));
      if (sortedLines(sums) !== sortedLines(sumsText(ctx.index.blobs))) {
        throw tar.invalid(`${BUNDLE_SUMS_PATH} does not match the blobs its index lists`);
      }
      continue;
    }
    const hex = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(path)?.[1];
    const size = hex === undefined ? undefined : declared.get(hex);
    if (hex === undefined || size === undefined) throw tar.invalid(`unexpected entry "${entry.path}"`);
    declared.delete(hex);
    if (entry.size !== size) {
      throw new LodeError(
        "SIZE_MISMATCH",
        `${tar.label}: blob ${
          hex.slice(0, 12)
        }… is ${entry.size} bytes in the bundle, its manifest says ${size}`,
        {
          details: { bundle: tar.label, blob: hex, expected_bytes: size, actual_bytes: entry.size },
          hint: "The bundle was altered or damaged; export the model again. Nothing unverified was added.",
        },
      );
    }
    const cached = ctx.present.has(hex);
    if (cached) await hashEntry(tar, { hex, size, onProgress: ctx.options.onProgress });
    else await writeBlob(store, tar, { hex, size, onProgress: ctx.options.onProgress });
    const blob = { sha256: hex, size_bytes: size, cached };
    done.push(blob);
    ctx.options.onBlob?.(blob);
  }
  const missing = [...declared.keys()];
  if (missing.length > 0) {
    throw tar.invalid(`it ends without blob ${missing[0]!.slice(0, 12)}… (${missing.length} missing)`);
  }
  return done;
}

/** Hashes the current entry without writing it (the store has the blob): a damaged bundle still fails. */
async function hashEntry(
  tar: TarReader,
  blob: { hex: string; size: number; onProgress?: (bytes: number) => void },
): Promise<void> {
  const hash = createHash("sha256");
  const reader = tar.body().getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(HASH_READ_BYTES);
  let bytes = 0;
  while (true) {
    const { value, done } = await reader.read(new Uint8Array(buffer));
    if (value) {
      hash.update(value);
      bytes += value.length;
      buffer = value.buffer as ArrayBuffer;
      blob.onProgress?.(tar.offset);
    }
    if (done) break;
  }
  assertDigest(tar, blob, { sha256: hash.digest("hex"), bytes });
}

function assertDigest(
  tar: TarReader,
  blob: { hex: string; size: number },
  digest: { sha256: string; bytes: number },
): void {
  if (digest.bytes === blob.size && digestsEqual(digest.sha256, blob.hex)) return;
  throw new LodeError(
    "DIGEST_MISMATCH",
    `${tar.label}: blob ${blob.hex.slice(0, 12)}… has sha256 ${digest.sha256}; the bundle is damaged`,
    {
      details: { bundle: tar.label, expected: blob.hex, actual: digest.sha256 },
      hint:
        "The bundle's bytes are not the ones its index names; copy or export it again. Nothing unverified was added.",
    },
  );
}

/** Streams the current entry through the hashing writer into the blob's partial directory, then commits it. */
async function writeBlob(
  store: ModelStore,
  tar: TarReader,
  blob: { hex: string; size: number; onProgress?: (bytes: number) => void },
): Promise<void> {
  const dir = store.layout.partialDir(blob.hex);
  // A name of its own: a pull's resumable data.tmp in the same directory is left alone on failure.
  const tmp = `${dir}/bundle-${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.mkdir(dir, { recursive: true });
  try {
    let digest: { sha256: string; bytes: number };
    {
      using file = await Deno.open(tmp, { write: true, createNew: true });
      const writer = new HashingWriter(file);
      try {
        await writer.pipeFrom(tar.body(), { onProgress: () => blob.onProgress?.(tar.offset) });
        digest = await writer.finish();
      } catch (e) {
        await writer.close().catch(() => {});
        throw e;
      }
    }
    assertDigest(tar, blob, digest);
    await store.commitBlob(tmp, blob.hex);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    await Deno.remove(dir).catch(() => {}); // only when empty: a pull's partial stays
    throw e;
  }
}

function normalize(path: string): string {
  return path.startsWith("./") ? path.slice(2) : path;
}

/** Refuses absolute paths, `..` segments and backslashes, whatever the entry is. */
function refuseUnsafe(tar: TarReader, path: string): void {
  if (path.startsWith("/") || path.includes("\\") || path.split("/").includes("..") || path.includes("\0")) {
    throw tar.invalid(
      `entry "${path}" points outside the bundle (path traversal); refused`,
      "This archive was not made by `lode export` and may be malicious; nothing was extracted.",
    );
  }
}

function sortedLines(text: string): string {
  return text.split("\n").filter((l) => l !== "").sort().join("\n");
}

/** The model's blobs and files, as one comparable string. */
function blobSetKey(m: Manifest): string {
  return JSON.stringify([m.blob, (m.files ?? []).map((f) => [f.role, f.filename, f.blob])]);
}
