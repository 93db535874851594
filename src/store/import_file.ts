/**
 * Importing a local file into the store: copied through the hashing writer
 * into a partial directory, then committed like a download (blob lock, atomic
 * rename, manifest last). A wrong pinned hash quarantines the copy, and so does
 * a file of format `gguf` (the default) that is not a well-formed GGUF model
 * (`GGUF_INVALID`, see `well_formed.ts`).
 *
 * @example
 * ```ts
 * import { ModelStore } from "./model_store.ts";
 * const store = await ModelStore.open("/srv/models");
 * const { manifest } = await importModelFile(store, "./m.gguf", { name: "m" });
 * ```
 * @module
 */
import { baseName } from "../path.ts";
import { LodeError } from "../errors.ts";
import { digestsEqual, sha256Bytes } from "./hash.ts";
import { HashingWriter } from "./hashing_writer.ts";
import type { Manifest } from "./manifest.ts";
import type { LockWaitOptions, ManifestInput, ModelStore } from "./model_store.ts";
import { quarantineFile } from "./quarantine.ts";

/** Options of {@link importModelFile}. */
export interface ImportOptions extends Omit<ManifestInput, "source" | "pinned"> {
  /** Expected SHA-256; a mismatch quarantines the copy and throws `DIGEST_MISMATCH`. */
  expectedSha256?: string;
  lock?: LockWaitOptions;
}

/** Copies `file` into the store under `options.name`, hashing while copying. */
export async function importModelFile(
  store: ModelStore,
  file: string,
  options: ImportOptions,
): Promise<{ manifest: Manifest; path: string }> {
  const { layout } = store;
  await using _nameLock = await store.lockName(options.name, options.lock);
  const partialDir = layout.unpinnedPartialDir(sha256Bytes(`file:${file}:${crypto.randomUUID()}`));
  await Deno.mkdir(partialDir, { recursive: true });
  const tmp = `${partialDir}/data.tmp`;
  try {
    let digest: { sha256: string; bytes: number };
    {
      using src = await Deno.open(file, { read: true }).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        throw new LodeError("FILE_NOT_FOUND", `no such file: ${file}`, { details: { path: file }, cause: e });
      });
      using dst = await Deno.open(tmp, { write: true, create: true, truncate: true });
      const writer = new HashingWriter(dst);
      await writer.pipeFrom(src.readable);
      digest = await writer.finish();
    }
    const source = { registry: "file", repo: "", revision: "", filename: baseName(file) };
    if (options.expectedSha256 && !digestsEqual(digest.sha256, options.expectedSha256)) {
      const moved = await quarantineFile(layout, tmp, {
        expected: options.expectedSha256,
        actual: digest.sha256,
        source: file,
        reason: "digest_mismatch",
        name: options.name,
      });
      throw new LodeError("DIGEST_MISMATCH", `${file} has sha256 ${digest.sha256}, not the pinned one`, {
        details: { expected: options.expectedSha256, actual: digest.sha256, quarantine_path: moved.path },
      });
    }
    await using _blobLock = await store.lockBlob(digest.sha256, options.lock);
    const path = (await store.hasBlob(digest.sha256))
      ? layout.blobPath(digest.sha256)
      : await store.commitBlob(tmp, digest.sha256);
    const manifest = await store.writeManifest(
      {
        name: options.name,
        format: options.format,
        license: options.license,
        source,
        pinned: Boolean(options.expectedSha256),
      },
      digest.sha256,
      digest.bytes,
      { origin: file },
    );
    return { manifest, path };
  } finally {
    await Deno.remove(partialDir, { recursive: true }).catch(() => {});
  }
}
