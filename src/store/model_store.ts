/**
 * The content-addressed model store: reading and writing manifests, committing
 * verified blobs, locking and removing models. Hashing lives in `verify_model.ts`
 * and `import_file.ts`, so listing the store never loads `node:crypto`.
 * The layout is {@link StoreLayout}'s; the network side of a pull lives in
 * `src/download/`.
 *
 * @example
 * ```ts
 * const store = await ModelStore.open("/srv/models");
 * const { models, problems } = await store.list();
 * ```
 * @module
 */
import { parentDir } from "../path.ts";
import { LodeError, toLodeError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { assertModelName, formatBlobRef, parseBlobRef, StoreLayout } from "./layout.ts";
import {
  type Manifest,
  type ManifestFile,
  type ManifestSource,
  parseManifest,
  serializeManifest,
} from "./manifest.ts";
import { writeFileAtomic } from "./atomic_write.ts";
import { blobHex, manifestBlobs } from "./manifest_blobs.ts";
import { acquireFileLock, type FileLock } from "./file_lock.ts";
import { forgetVerified, recordVerified } from "./verified_record.ts";
import { refuseMalformed } from "./well_formed.ts";

/** How to behave when another process holds a lock. */
export interface LockWaitOptions {
  /** `false`: fail with `LOCK_CONTENDED` instead of waiting. */
  wait?: boolean;
  /** Called once when we start waiting for another process. */
  onWait?: (what: string) => void;
}

/** What a new manifest records, apart from the blob it points at. */
export interface ManifestInput {
  name: string;
  format?: string;
  license?: string | null;
  source: ManifestSource;
  pinned: boolean;
  /** Every file of a multi-file model, the primary one first (omitted for a single file). */
  files?: ManifestFile[];
}

/** Options of {@link ModelStore.saveManifest}. */
export interface SaveManifestOptions {
  /** Where the bytes came from (a file path, a bundle), for a quarantine record; default: each file's URL. */
  origin?: string;
}

/** What {@link ModelStore.remove} removed. */
export interface RemoveResult {
  /** True when the primary blob went (no other manifest refers to it). */
  blobRemoved: boolean;
  /** Blobs removed, and blobs kept because another model uses them. */
  blobsRemoved: number;
  blobsKept: number;
}

/** A store rooted at one directory. All methods are safe across processes. */
export class ModelStore {
  readonly layout: StoreLayout;

  private constructor(layout: StoreLayout) {
    this.layout = layout;
  }

  /**
   * Opens the store at `root`. Nothing is created until something is written:
   * reading a store that does not exist yet (`lode ls`) leaves no trace.
   */
  static open(root: string): Promise<ModelStore> {
    return Promise.resolve(new ModelStore(new StoreLayout(root)));
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
    for (const path of await this.#manifestPaths()) {
      try {
        models.push(parseManifest(await Deno.readTextFile(path), path));
      } catch (e) {
        problems.push(toLodeError(e, "MANIFEST_INVALID"));
      }
    }
    models.sort((a, b) => a.name.localeCompare(b.name));
    return { models, problems };
  }

  /** Paths of every `manifests/<name>.json` (no temporary files); none when the store is empty. */
  async #manifestPaths(): Promise<string[]> {
    const entries = await Array.fromAsync(Deno.readDir(this.layout.manifestsDir)).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return [];
      throw toLodeError(e, "IO");
    });
    return entries
      .filter((e) => e.isFile && e.name.endsWith(".json") && !e.name.startsWith("."))
      .map((e) => `${this.layout.manifestsDir}/${e.name}`);
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

  /**
   * The file to load for `name`: its blob, or — for a model of several files (split shards, mmproj)
   * — its primary file's link in `links/<name>/`, where every file sits under its original name
   * (llama.cpp finds shard 2… beside shard 1 by name). Every blob is checked to exist.
   */
  async modelPathOf(name: string): Promise<string> {
    return await this.checkedModelPath(await this.getManifest(name));
  }

  /** {@link modelPathOf} for a manifest in hand: every blob checked to exist. */
  async checkedModelPath(manifest: Manifest): Promise<string> {
    const { name } = manifest;
    for (const hex of manifestBlobs(manifest)) {
      if (!(await this.hasBlob(hex))) {
        throw new LodeError(
          "BLOB_MISSING",
          `model "${name}" names blob ${hex.slice(0, 12)}… which is missing`,
          {
            details: { name, blob: formatBlobRef(hex), path: this.layout.blobPath(hex) },
          },
        );
      }
    }
    return await this.modelPath(manifest);
  }

  /** {@link modelPathOf} for a manifest in hand (links made or repaired as needed; blobs not checked). */
  async modelPath(manifest: Manifest): Promise<string> {
    const files = manifest.files ?? [];
    if (files.length < 2) return this.layout.blobPath(blobHex(manifest));
    const dir = this.linksDir(manifest.name);
    await Deno.mkdir(dir, { recursive: true });
    const wanted = new Map<string, string>();
    for (const f of files) {
      const hex = parseBlobRef(f.blob);
      const base = f.filename.slice(f.filename.lastIndexOf("/") + 1);
      if (!hex || !base || base.startsWith(".") || wanted.has(base)) continue;
      wanted.set(base, `../../blobs/sha256/${hex.slice(0, 2)}/${hex}/data`);
    }
    for (const entry of await Array.fromAsync(Deno.readDir(dir))) {
      if (!wanted.has(entry.name)) await Deno.remove(`${dir}/${entry.name}`).catch(() => {});
    }
    for (const [base, target] of wanted) {
      const link = `${dir}/${base}`;
      if ((await Deno.readLink(link).catch(() => null)) === target) continue;
      const tmp = `${dir}/.${base}.${crypto.randomUUID()}`;
      await Deno.symlink(target, tmp);
      await Deno.rename(tmp, link);
    }
    const primary = files[0]!.filename;
    return `${dir}/${primary.slice(primary.lastIndexOf("/") + 1)}`;
  }

  /** Directory of a multi-file model's links (`links/<name>`). */
  linksDir(name: string): string {
    return `${this.layout.root}/links/${assertModelName(name)}`;
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
    await Deno.mkdir(parentDir(target), { recursive: true });
    // Read-only: a tool that opens the model for writing by mistake cannot change verified bytes.
    await Deno.chmod(verifiedFile, 0o444);
    await Deno.rename(verifiedFile, target);
    await Deno.remove(parentDir(verifiedFile), { recursive: true }).catch(() => {});
    // lode wrote these bytes: `lode sync` trusts this very file without re-hashing it.
    await recordVerified(this.layout, hex);
    return target;
  }

  /** Writes the manifest of a committed blob. Called last: readers trust a manifest only once its blob exists. */
  async writeManifest(
    input: ManifestInput,
    hex: string,
    sizeBytes: number,
    options: SaveManifestOptions = {},
  ): Promise<Manifest> {
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
      ...(input.files?.length ? { files: input.files } : {}),
    };
    return await this.saveManifest(manifest, options);
  }

  /**
   * Writes `manifest` as it is (atomically); its blobs are committed and locked by the caller. Every route
   * into the store ends here: a `gguf` model whose blob is not well-formed is refused ({@link refuseMalformed}).
   */
  async saveManifest(manifest: Manifest, options: SaveManifestOptions = {}): Promise<Manifest> {
    await refuseMalformed(this.layout, manifest, {
      origin: options.origin,
      referenced: () => this.referencedBlobs(),
    });
    await writeFileAtomic(this.layout.manifestPath(manifest.name), serializeManifest(manifest));
    return manifest;
  }

  /**
   * Hex digests of every blob a manifest references ({@link manifestBlobs}). A manifest that does not
   * parse still protects every `sha256:<hex>` it contains, and is reported through `onProblem`; one
   * that cannot be read fails with `IO` (it might reference anything, so nothing may be removed).
   */
  async referencedBlobs(onProblem: (problem: LodeError) => void = () => {}): Promise<Set<string>> {
    const refs = new Set<string>();
    for (const path of await this.#manifestPaths()) {
      let text: string;
      try {
        text = await Deno.readTextFile(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue; // removed meanwhile
        throw new LodeError("IO", `cannot read manifest ${path}; nothing is removed while it cannot`, {
          cause: e,
          details: { path },
        });
      }
      try {
        for (const hex of manifestBlobs(parseManifest(text, path))) refs.add(hex);
      } catch (e) {
        for (const match of text.matchAll(/sha256:([0-9a-f]{64})/g)) refs.add(match[1]!);
        onProblem(toLodeError(e, "MANIFEST_INVALID"));
      }
    }
    return refs;
  }

  /**
   * Removes the manifest of `name` (and its links), then each of its blobs that no other manifest
   * refers to. A malformed manifest can be removed too.
   */
  async remove(name: string, options: LockWaitOptions = {}): Promise<RemoveResult> {
    const path = this.layout.manifestPath(name);
    await using _nameLock = await this.lockName(name, options);
    let hexes: string[] = [];
    try {
      const manifest = await this.readManifest(name);
      if (!manifest) {
        throw new LodeError("MODEL_NOT_FOUND", `no model named "${name}"`, { details: { name } });
      }
      hexes = manifestBlobs(manifest);
    } catch (e) {
      if (!(e instanceof LodeError && e.code === "MANIFEST_INVALID")) throw e;
    }
    // Every blob lock is taken (in digest order) before anything is removed, so a contended lock changes nothing.
    const locks: FileLock[] = [];
    try {
      for (const hex of [...hexes].sort()) locks.push(await this.lockBlob(hex, options));
      await Deno.remove(path);
      await Deno.remove(this.linksDir(name), { recursive: true }).catch(() => {});
      const referenced = await this.referencedBlobs();
      let blobsRemoved = 0;
      for (const hex of hexes) {
        if (referenced.has(hex)) continue;
        await Deno.remove(this.layout.blobDir(hex), { recursive: true }).catch(() => {});
        await forgetVerified(this.layout, hex);
        blobsRemoved++;
      }
      const primary = hexes[0];
      return {
        blobRemoved: primary !== undefined && !referenced.has(primary),
        blobsRemoved,
        blobsKept: hexes.length - blobsRemoved,
      };
    } finally {
      for (const lock of locks.reverse()) await lock.release();
    }
  }
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
