/**
 * What the store holds under a model's name, as the router compares it with
 * what it loaded: the store is the truth, and other processes change it
 * while the daemon runs (`lode rm`, `lode gc`, a pull or import that puts
 * another file under the same name). A {@link StoredVersion} is read from the
 * manifest when a model is loaded; afterwards
 *
 * - `unchanged` tells at once, with one `stat` of the manifest (no read, no
 *   await), whether the manifest file is still the one read — the check of
 *   every acquire;
 * - `read` reads the manifest again (when the stat says it may have changed,
 *   and on every change the watch reports): its blobs' digests, and whether
 *   they are all there;
 * - `watch` reports changes of the manifests directory (`Deno.watchFs`), and
 *   polls as well, for a file system that does not report them or a
 *   directory made after the watch started.
 *
 * Manifests are written by an atomic rename and removed by `unlink`, so a
 * manifest rewritten or removed always changes its inode, size or times.
 *
 * @example
 * ```ts
 * import { ModelStore } from "../../store/model_store.ts";
 * import { storeVersions } from "./stored_versions.ts";
 * const versions = storeVersions(await ModelStore.open("/srv/models"));
 * const loaded = await versions.read("stories260K", { path: true }); // null: no such model, or a blob is missing
 * if (loaded !== null && !versions.unchanged("stories260K", loaded)) {
 *   const now = await versions.read("stories260K");
 *   console.log(now?.digest === loaded.digest ? "rewritten, same bytes" : "removed or replaced");
 * }
 * ```
 * @module
 */
import { isLodeError } from "../../errors.ts";
import { baseName } from "../../path.ts";
import type { ModelStore } from "../../store/model_store.ts";
import { manifestBlobs } from "../../store/manifest_blobs.ts";

/**
 * One model as the store held it when read.
 *
 * @example
 * ```ts
 * import type { StoredVersion } from "./stored_versions.ts";
 * const same = (a: StoredVersion, b: StoredVersion) => a.digest === b.digest;
 * ```
 */
export interface StoredVersion {
  /** The model's blobs (`<hex>` of each, comma-separated, in the manifest's order). */
  readonly digest: string;
  /** The manifest file's identity when it was read (inode, size, change and modification times). */
  readonly stamp: string;
  /** The file to load (the blob, or a multi-file model's link to its primary file), when asked. */
  readonly path: string | null;
}

/**
 * The store's side of the router's checks (see the module doc).
 *
 * @example
 * ```ts
 * import type { StoredVersions } from "./stored_versions.ts";
 * const gone = async (v: StoredVersions, name: string) => (await v.read(name)) === null;
 * ```
 */
export interface StoredVersions {
  /**
   * The model stored as `name` now; null when there is none, its manifest is invalid or a blob is missing.
   * `path`: with the file to load (a multi-file model's links made or repaired), else `path` is null.
   */
  read(name: string, options?: { path?: boolean }): Promise<StoredVersion | null>;
  /** At once: true when `name`'s manifest is still the file `version` was read from. */
  unchanged(name: string, version: StoredVersion): boolean;
  /** Calls `onChange` when the manifests may have changed (and every poll interval); `close` stops it. */
  watch(onChange: () => void): { close(): void };
}

/** Options of {@link storeVersions}. */
export interface StoreVersionsOptions {
  /** How often `watch` also calls back, and retries a watch that could not start. Default 10 s. */
  pollMs?: number;
}

/**
 * The {@link StoredVersions} of `store`.
 *
 * @example
 * ```ts
 * import { ModelStore } from "../../store/model_store.ts";
 * import { storeVersions } from "./stored_versions.ts";
 * const versions = storeVersions(await ModelStore.open("/srv/models"), { pollMs: 5000 });
 * const watching = versions.watch(() => console.log("the manifests changed"));
 * watching.close();
 * ```
 */
export function storeVersions(
  store: Pick<ModelStore, "layout" | "readManifest" | "hasBlob" | "modelPath">,
  options: StoreVersionsOptions = {},
): StoredVersions {
  const stampOf = (name: string) => fileStamp(store.layout.manifestPath(name));
  return {
    async read(name, o = {}) {
      const stamp = stampOf(name); // before the read: a rewrite after it changes the stamp
      if (stamp === null) return null;
      const manifest = await store.readManifest(name).catch((e) => {
        if (isLodeError(e, "MANIFEST_INVALID")) return null;
        throw e;
      });
      if (manifest === null) return null;
      const hexes = manifestBlobs(manifest);
      for (const hex of hexes) {
        if (!(await store.hasBlob(hex))) return null;
      }
      return { digest: hexes.join(","), stamp, path: o.path ? await store.modelPath(manifest) : null };
    },
    unchanged: (name, version) => stampOf(name) === version.stamp,
    watch: (onChange) => watchDirectory(store.layout.manifestsDir, onChange, options.pollMs ?? 10_000),
  };
}

/** The identity of the file at `path` (null: there is none). */
function fileStamp(path: string): string | null {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
    throw e;
  }
  return `${info.ino}:${info.size}:${info.mtime?.getTime()}:${info.ctime?.getTime()}`;
}

/**
 * Calls `onChange` for every change of a visible file in `dir` (names starting with "." are temporary
 * files) and every `pollMs`; a watch that cannot start (no such directory yet) or ends (the directory
 * was removed) is tried again at the next poll.
 */
function watchDirectory(dir: string, onChange: () => void, pollMs: number): { close(): void } {
  let watcher: Deno.FsWatcher | null = null;
  let closed = false;
  const open = () => {
    if (watcher !== null || closed) return;
    let opened: Deno.FsWatcher;
    try {
      opened = Deno.watchFs(dir, { recursive: false });
    } catch {
      return; // polled until it can start
    }
    watcher = opened;
    void (async () => {
      try {
        for await (const event of opened) {
          if (event.paths.some((p) => !baseName(p).startsWith("."))) onChange();
        }
      } catch { /* the directory went away: polled until it is back */ }
      if (watcher === opened) watcher = null;
    })();
  };
  open();
  const timer = setInterval(() => {
    open();
    onChange();
  }, pollMs);
  Deno.unrefTimer(timer);
  return {
    close() {
      closed = true;
      clearInterval(timer);
      try {
        watcher?.close();
      } catch { /* closed already */ }
      watcher = null;
    },
  };
}
