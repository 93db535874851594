/**
 * The content-addressed model store: reading and writing manifests, committing
 * verified blobs, removing models, re-verifying blobs and importing local files.
 * Layout and flow follow seed `001` (see {@link StoreLayout}); the network side
 * of a pull lives in `src/download/`.
 *
 * @example
 * ```ts
 * const store = await ModelStore.open("/srv/models");
 * const { models, problems } = await store.list();
 * ```
 * @module
 */
import { basename, dirname } from "node:path";
import { LodeError, toLodeError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { assertModelName, formatBlobRef, parseBlobRef, StoreLayout } from "./layout.ts";
import { type Manifest, type ManifestSource, parseManifest, serializeManifest } from "./manifest.ts";
import { writeFileAtomic } from "./atomic_write.ts";
import { acquireFileLock, type FileLock } from "./file_lock.ts";
import { digestsEqual, sha256Bytes, sha256File } from "./hash.ts";
import { quarantineFile } from "./quarantine.ts";
import { HashingWriter } from "./hashing_writer.ts";

/** How to behave when another process holds a lock. */
export interface LockWaitOptions {
  /** `false`: fail with `LOCK_CONTENDED` instead of waiting. */
  wait?: boolean;
  /** Called once when we start waiting for another process. */
  onWait?: (what: string) => void;
}

/** The result of {@link ModelStore.verify}. */
export interface VerifyResult {
  name: string;
  ok: boolean;
  expected: string;
  actual: string | null;
  /** Where the bad bytes went, when they failed. */
  quarantinePath?: string;
  /** `BLOB_MISSING` when the manifest's blob is not on disk. */
  problem?: "BLOB_MISSING" | "DIGEST_MISMATCH";
}

/** What a new manifest records, apart from the blob it points at. */
export interface ManifestInput {
  name: string;
  format?: string;
  license?: string | null;
  source: ManifestSource;
  pinned: boolean;
}

/** A store rooted at one directory. All methods are safe across processes. */
export class ModelStore {
  readonly layout: StoreLayout;

  private constructor(layout: StoreLayout) {
    this.layout = layout;
  }

  /** Opens (and creates the directories of) the store at `root`. */
  static async open(root: string): Promise<ModelStore> {
    const layout = new StoreLayout(root);
    for (const dir of [layout.blobsDir, layout.manifestsDir, layout.quarantineDir]) {
      await Deno.mkdir(dir, { recursive: true });
    }
    return new ModelStore(layout);
  }

  /** The manifest of `name`, or `null` when there is none. Throws `MANIFEST_INVALID` for a bad file. */
  async readManifest(name: string): Promise<Manifest | null> {
    const path = this.layout.manifestPath(name);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw toLodeError(e, "IO");
    }
    return parseManifest(text, path);
  }

  /** Every readable manifest, sorted by name, and a typed problem for each unreadable one. */
  async list(): Promise<{ models: Manifest[]; problems: LodeError[] }> {
    const models: Manifest[] = [];
    const problems: LodeError[] = [];
    for await (const entry of Deno.readDir(this.layout.manifestsDir)) {
      if (!entry.isFile || !entry.name.endsWith(".json") || entry.name.startsWith(".")) continue;
      const path = `${this.layout.manifestsDir}/${entry.name}`;
      try {
        models.push(parseManifest(await Deno.readTextFile(path), path));
      } catch (e) {
        problems.push(toLodeError(e, "MANIFEST_INVALID"));
      }
    }
    models.sort((a, b) => a.name.localeCompare(b.name));
    return { models, problems };
  }

  /** The manifest of `name`; `MODEL_NOT_FOUND` when missing. */
  async getManifest(name: string): Promise<Manifest> {
    const manifest = await this.readManifest(assertModelName(name));
    if (!manifest) {
      throw new LodeError("MODEL_NOT_FOUND", `no model named "${name}" in ${this.layout.root}`, {
        details: { name, store: this.layout.root },
      });
    }
    return manifest;
  }

  /** Path of the committed blob of `name`, checked to exist (`BLOB_MISSING` otherwise). */
  async blobPathOf(name: string): Promise<string> {
    const manifest = await this.getManifest(name);
    const hex = blobHex(manifest);
    const path = this.layout.blobPath(hex);
    if (!(await exists(path))) {
      throw new LodeError(
        "BLOB_MISSING",
        `model "${name}" names blob ${hex.slice(0, 12)}… which is missing`,
        {
          details: { name, blob: manifest.blob, path },
        },
      );
    }
    return path;
  }

  /** True when blob `hex` is committed. */
  hasBlob(hex: string): Promise<boolean> {
    return exists(this.layout.blobPath(hex));
  }

  /** Takes the per-name lock (`locks/<name>.lock`). */
  lockName(name: string, options: LockWaitOptions = {}): Promise<FileLock> {
    return acquireFileLock(this.layout.nameLockPath(name), {
      name,
      wait: options.wait,
      onWait: () => options.onWait?.(`model "${name}"`),
    });
  }

  /** Takes the lock of one blob's bytes. Always taken after a name lock, never before. */
  lockBlob(hex: string, options: LockWaitOptions = {}): Promise<FileLock> {
    return acquireFileLock(this.layout.blobLockPath(hex), {
      name: `sha256:${hex}`,
      wait: options.wait,
      onWait: () => options.onWait?.(`blob ${hex.slice(0, 12)}`),
    });
  }

  /** Moves a verified file into the CAS path of `hex` (atomic rename) and removes its partial directory. */
  async commitBlob(verifiedFile: string, hex: string): Promise<string> {
    const target = this.layout.blobPath(hex);
    await Deno.mkdir(dirname(target), { recursive: true });
    // Read-only: a tool that opens the model for writing by mistake cannot change verified bytes.
    await Deno.chmod(verifiedFile, 0o444);
    await Deno.rename(verifiedFile, target);
    await Deno.remove(dirname(verifiedFile), { recursive: true }).catch(() => {});
    return target;
  }

  /** Writes the manifest of a committed blob. Called last: readers trust a manifest only once its blob exists. */
  async writeManifest(input: ManifestInput, hex: string, sizeBytes: number): Promise<Manifest> {
    const manifest: Manifest = {
      schema_version: 1,
      name: assertModelName(input.name),
      format: input.format ?? "gguf",
      blob: formatBlobRef(hex),
      size_bytes: sizeBytes,
      license: input.license ?? null,
      source: input.source,
      produced_by: `lode/${VERSION}`,
      produced_at: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      pinned: input.pinned,
    };
    await writeFileAtomic(this.layout.manifestPath(manifest.name), serializeManifest(manifest));
    return manifest;
  }

  /** Blob digests referenced by any readable manifest. */
  async referencedBlobs(): Promise<Set<string>> {
    const { models } = await this.list();
    const refs = new Set<string>();
    for (const m of models) {
      refs.add(blobHex(m));
      for (const f of m.files ?? []) {
        const hex = parseBlobRef(f.blob);
        if (hex) refs.add(hex);
      }
    }
    return refs;
  }

  /**
   * Removes the manifest of `name`, then its blob when no other manifest refers to it.
   * A malformed manifest can be removed too.
   */
  async remove(name: string, options: LockWaitOptions = {}): Promise<{ blobRemoved: boolean }> {
    const path = this.layout.manifestPath(name);
    await using _nameLock = await this.lockName(name, options);
    let hex: string | null = null;
    try {
      const manifest = await this.readManifest(name);
      if (!manifest) {
        throw new LodeError("MODEL_NOT_FOUND", `no model named "${name}"`, { details: { name } });
      }
      hex = blobHex(manifest);
    } catch (e) {
      if (!(e instanceof LodeError && e.code === "MANIFEST_INVALID")) throw e;
    }
    // The blob lock is taken before anything is removed, so a contended lock changes nothing.
    await using _blobLock = hex ? await this.lockBlob(hex, options) : null;
    await Deno.remove(path);
    if (!hex) return { blobRemoved: false };
    if ((await this.referencedBlobs()).has(hex)) return { blobRemoved: false };
    await Deno.remove(this.layout.blobDir(hex), { recursive: true }).catch(() => {});
    return { blobRemoved: true };
  }

  /**
   * Re-hashes the blob of `name`. On a mismatch the blob is moved to quarantine
   * (the manifest stays, so the next `lode pull NAME` repairs it).
   */
  async verify(name: string, options: { onProgress?: (bytes: number) => void } = {}): Promise<VerifyResult> {
    const manifest = await this.getManifest(name);
    const expected = blobHex(manifest);
    const path = this.layout.blobPath(expected);
    await using _blobLock = await this.lockBlob(expected);
    if (!(await exists(path))) return { name, ok: false, expected, actual: null, problem: "BLOB_MISSING" };
    const actual = await sha256File(path, { onProgress: options.onProgress });
    if (digestsEqual(actual, expected)) return { name, ok: true, expected, actual };
    const moved = await quarantineFile(this.layout, path, {
      expected,
      actual,
      source: "store",
      reason: "corrupt_on_disk",
      name,
    });
    await Deno.remove(this.layout.blobDir(expected), { recursive: true }).catch(() => {});
    return { name, ok: false, expected, actual, quarantinePath: moved.path, problem: "DIGEST_MISMATCH" };
  }

  /**
   * Copies a local file into the store under `input.name`, hashing while copying.
   * With `expectedSha256`, a mismatch quarantines the copy and throws `DIGEST_MISMATCH`.
   */
  async importFile(
    file: string,
    input: Omit<ManifestInput, "source" | "pinned"> & { expectedSha256?: string; lock?: LockWaitOptions },
  ): Promise<{ manifest: Manifest; path: string }> {
    await using _nameLock = await this.lockName(input.name, input.lock);
    const partialDir = this.layout.unpinnedPartialDir(sha256Bytes(`file:${file}:${crypto.randomUUID()}`));
    await Deno.mkdir(partialDir, { recursive: true });
    const tmp = `${partialDir}/data.tmp`;
    try {
      let digest: { sha256: string; bytes: number };
      {
        using src = await Deno.open(file, { read: true });
        using dst = await Deno.open(tmp, { write: true, create: true, truncate: true });
        const writer = new HashingWriter(dst);
        for await (const chunk of src.readable) await writer.write(chunk);
        digest = await writer.finish();
      }
      const source = { registry: "file", repo: "", revision: "", filename: basename(file) };
      if (input.expectedSha256 && !digestsEqual(digest.sha256, input.expectedSha256)) {
        const moved = await quarantineFile(this.layout, tmp, {
          expected: input.expectedSha256,
          actual: digest.sha256,
          source: file,
          reason: "digest_mismatch",
          name: input.name,
        });
        throw new LodeError("DIGEST_MISMATCH", `${file} has sha256 ${digest.sha256}, not the pinned one`, {
          details: { expected: input.expectedSha256, actual: digest.sha256, quarantine_path: moved.path },
        });
      }
      await using _blobLock = await this.lockBlob(digest.sha256, input.lock);
      const path = (await this.hasBlob(digest.sha256))
        ? this.layout.blobPath(digest.sha256)
        : await this.commitBlob(tmp, digest.sha256);
      const manifest = await this.writeManifest(
        { ...input, source, pinned: Boolean(input.expectedSha256) },
        digest.sha256,
        digest.bytes,
      );
      return { manifest, path };
    } finally {
      await Deno.remove(partialDir, { recursive: true }).catch(() => {});
    }
  }
}

/** The hex digest of a manifest's main blob. */
export function blobHex(manifest: Manifest): string {
  const hex = parseBlobRef(manifest.blob);
  if (!hex) {
    throw new LodeError("MANIFEST_INVALID", `manifest of "${manifest.name}" has a bad blob reference`);
  }
  return hex;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
