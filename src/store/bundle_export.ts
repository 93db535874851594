/**
 * `lode export`: writes one model — its manifest, every blob and their hashes —
 * as a tar bundle (format in `bundle_index.ts`) to a file or any byte sink
 * (stdout). Blobs are streamed in 8 MiB reads, double-buffered so the next
 * read overlaps the previous write, and re-hashed on the way out: bytes that
 * rotted in the store fail the export (`DIGEST_MISMATCH`) instead of reaching
 * the other machine. Entries carry the manifest's `produced_at` as their time,
 * so exporting the same model twice gives the same bytes.
 *
 * @example
 * ```ts
 * import { ModelStore } from "./model_store.ts";
 * const store = await ModelStore.open("/srv/models");
 * const r = await exportBundleToFile(store, "stories260K", "./stories260K.lode");
 * console.log(r.bundleBytes, r.blobs.length);
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import { parentDir } from "../path.ts";
import { LodeError, toLodeError, writeError } from "../errors.ts";
import { BLOCK, encodeTarEntryHeader, tarEndOfArchive, tarPadding } from "./bundle_tar_header.ts";
import {
  blobEntryPath,
  BUNDLE_INDEX_PATH,
  BUNDLE_SUMS_PATH,
  type BundleBlob,
  bundleIndexFor,
  sumsText,
} from "./bundle_index.ts";
import { digestsEqual, readFull } from "./hash.ts";
import type { Manifest } from "./manifest.ts";
import { writeAllSync } from "./page_cache_write.ts";
import type { LockWaitOptions, ModelStore } from "./model_store.ts";
import type { FileLock } from "./file_lock.ts";

/** Where bundle bytes go (`Deno.FsFile`, `Deno.stdout`). */
export interface ByteSink {
  write(p: Uint8Array): Promise<number>;
}

/** Options of {@link exportBundle}. */
export interface ExportOptions {
  lock?: LockWaitOptions;
  /** Called after each blob is written and its hash checked. */
  onBlob?: (blob: BundleBlob) => void;
  /** Called after each write with the bundle bytes written so far and the bundle's total size. */
  onProgress?: (writtenBytes: number, totalBytes: number) => void;
  /** Called with the bundle's size before its first byte is written; throws to refuse (disk space). */
  preflight?: (bundleBytes: number) => Promise<void>;
}

/** What an export wrote. */
export interface ExportResult {
  manifest: Manifest;
  blobs: BundleBlob[];
  /** Size of the bundle. */
  bundleBytes: number;
}

/** Writes the bundle of model `name` to `sink`. Holds the model's lock and its blobs' locks meanwhile. */
export async function exportBundle(
  store: ModelStore,
  name: string,
  options: ExportOptions & { sink: ByteSink },
): Promise<ExportResult> {
  const locks: FileLock[] = [await store.lockName(name, options.lock)];
  try {
    const manifest = await store.getManifest(name);
    const index = bundleIndexFor(manifest);
    for (const b of [...index.blobs].sort((x, y) => x.sha256.localeCompare(y.sha256))) {
      locks.push(await store.lockBlob(b.sha256, options.lock));
    }
    for (const b of index.blobs) await checkStoredSize(store, name, b);
    const indexBytes = new TextEncoder().encode(JSON.stringify(index, null, 2) + "\n");
    const sumsBytes = new TextEncoder().encode(sumsText(index.blobs));
    const mtime = Math.floor((Date.parse(manifest.produced_at) || 0) / 1000);
    const heads = index.blobs.map((b) =>
      encodeTarEntryHeader({ path: blobEntryPath(b.sha256), size: b.size_bytes, mtime })
    );
    const total = entryBytes(BLOCK, indexBytes.length) + entryBytes(BLOCK, sumsBytes.length) +
      index.blobs.reduce((n, b, i) => n + entryBytes(heads[i]!.length, b.size_bytes), 0) + 2 * BLOCK;
    await options.preflight?.(total);
    const out = new CountingSink(options.sink, (n) => options.onProgress?.(n, total));
    for (const [path, bytes] of [[BUNDLE_INDEX_PATH, indexBytes], [BUNDLE_SUMS_PATH, sumsBytes]] as const) {
      await out.write(encodeTarEntryHeader({ path, size: bytes.length, mtime }));
      await out.write(bytes);
      await out.write(new Uint8Array(tarPadding(bytes.length)));
    }
    for (const [i, b] of index.blobs.entries()) {
      await out.write(heads[i]!);
      await copyHashed(store, name, b, out);
      await out.write(new Uint8Array(tarPadding(b.size_bytes)));
      options.onBlob?.(b);
    }
    await out.write(tarEndOfArchive());
    return { manifest, blobs: index.blobs, bundleBytes: out.written };
  } finally {
    for (const lock of locks.reverse()) await lock.release();
  }
}

/** What to do when a bundle does not fit where it is written. */
export const EXPORT_SPACE_HINT =
  "Free space on that disk, or export to another one: a path on a larger disk, or `-` to stream the bundle " +
  "(`lode export NAME - | ssh HOST 'cat > NAME.lode'`).";

/**
 * Writes the bundle of `name` to `path`: into a temporary file beside it, synced, then renamed over
 * `path`, so a failed export never leaves a partial bundle under the final name.
 */
export async function exportBundleToFile(
  store: ModelStore,
  name: string,
  path: string,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const tmp = `${path}.partial-${crypto.randomUUID().slice(0, 8)}`;
  try {
    let result: ExportResult;
    {
      using file = await Deno.open(tmp, { write: true, createNew: true });
      // Written on this thread in pieces of at most 32 KiB (page_cache_write.ts says why).
      const sink: ByteSink = {
        write: (bytes) => {
          writeAllSync(file, bytes);
          return Promise.resolve(bytes.length);
        },
      };
      result = await exportBundle(store, name, { ...options, sink });
      await file.sync();
    }
    await Deno.rename(tmp, path);
    return result;
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    if (e instanceof Deno.errors.NotFound) {
      throw new LodeError("IO", `cannot write ${path}: ${parentDir(path)} does not exist`, { cause: e });
    }
    throw writeError(e, path, EXPORT_SPACE_HINT);
  }
}

function entryBytes(headerBytes: number, size: number): number {
  return headerBytes + size + tarPadding(size);
}

async function checkStoredSize(store: ModelStore, name: string, blob: BundleBlob): Promise<void> {
  const path = store.layout.blobPath(blob.sha256);
  const stat = await Deno.stat(path).catch((e) => {
    if (e instanceof Deno.errors.NotFound) {
      throw new LodeError(
        "BLOB_MISSING",
        `model "${name}" names blob ${blob.sha256.slice(0, 12)}…, which is missing`,
        {
          details: { name, blob: `sha256:${blob.sha256}`, path },
        },
      );
    }
    throw toLodeError(e, "IO");
  });
  if (stat.size !== blob.size_bytes) {
    throw new LodeError(
      "SIZE_MISMATCH",
      `blob ${
        blob.sha256.slice(0, 12)
      }… of "${name}" is ${stat.size} bytes on disk, its manifest says ${blob.size_bytes}`,
      {
        details: { name, path, actual_bytes: stat.size, expected_bytes: blob.size_bytes },
        hint: `The store is damaged: \`lode verify ${name}\` checks it, \`lode pull ${name}\` repairs it.`,
      },
    );
  }
}

/** Bytes read, hashed and written at a time: a batch still in a core's L2 when it is written. */
const COPY_BATCH_BYTES = 512 * 1024;

/** Streams one blob into the sink (the next read overlapping the previous write), checking its SHA-256. */
async function copyHashed(
  store: ModelStore,
  name: string,
  blob: BundleBlob,
  out: CountingSink,
): Promise<void> {
  const hash = createHash("sha256");
  using file = await Deno.open(store.layout.blobPath(blob.sha256), { read: true });
  const buffers = [new Uint8Array(COPY_BATCH_BYTES), new Uint8Array(COPY_BATCH_BYTES)];
  let pending: Promise<void> = Promise.resolve();
  let left = blob.size_bytes;
  for (let i = 0; left > 0; i = 1 - i) {
    const want = Math.min(COPY_BATCH_BYTES, left);
    const view = buffers[i]!.subarray(0, want);
    if ((await readFull(file, view)) < want) {
      throw new LodeError(
        "SIZE_MISMATCH",
        `blob ${blob.sha256.slice(0, 12)}… of "${name}" shrank while exported`,
        {
          details: { name, expected_bytes: blob.size_bytes },
        },
      );
    }
    hash.update(view);
    await pending;
    pending = out.write(view);
    // A failed write surfaces where `pending` is awaited, never as an unhandled rejection.
    pending.catch(() => {});
    left -= want;
  }
  await pending;
  const actual = hash.digest("hex");
  if (!digestsEqual(actual, blob.sha256)) {
    throw new LodeError(
      "DIGEST_MISMATCH",
      `blob of "${name}" in the store has sha256 ${actual}, not ${blob.sha256}; nothing was exported`,
      {
        details: { name, expected: blob.sha256, actual },
        hint:
          `The store copy is corrupt: \`lode verify ${name}\` quarantines it, \`lode pull ${name}\` repairs it.`,
      },
    );
  }
}

/** A sink that writes everything it is given and counts it. */
class CountingSink {
  written = 0;
  readonly #sink: ByteSink;
  readonly #onWritten: (n: number) => void;

  constructor(sink: ByteSink, onWritten: (n: number) => void) {
    this.#sink = sink;
    this.#onWritten = onWritten;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) done += await this.#sink.write(bytes.subarray(done));
    this.written += bytes.length;
    this.#onWritten(this.written);
  }
}
