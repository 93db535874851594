/**
 * The router follows the store: a model is loaded from what the store held
 * under its name (its {@link StoredVersion}), and is unloaded once the store
 * holds it no more (`lode rm`; `lode gc` then frees its blobs) or holds
 * another file under that name (pulled or imported again). Other processes
 * change the store; the router notices
 *
 * - **at every acquire**: one `stat` of the model's manifest
 *   ({@link StoreSync.fresh}); when the file changed it is read again
 *   ({@link StoreSync.check}), so a request after `lode rm` has returned gets
 *   `MODEL_NOT_FOUND`, and one after a pull of another file under the name
 *   loads that file: never the old one;
 * - **on its own**: on every change of the manifests directory the store's
 *   watch reports (and every poll), every loaded model is checked
 *   ({@link StoreSync.checkAll}), so an idle model's runner stops, and its
 *   deleted blob's disk space is freed, without waiting for a request.
 *
 * A stale model is handed to `onStale`: the lifecycle retires it — no new
 * lease, its running requests finish (the runner's open file keeps the
 * deleted bytes readable), its runner stops when the last one is released.
 * A model still loading is checked at its first acquire once loaded.
 *
 * @example
 * ```ts
 * import { StoreSync } from "./store_sync.ts";
 * import { ModelTable } from "./model_table.ts";
 * import { storeVersions } from "./stored_versions.ts";
 * import { ModelStore } from "../../store/model_store.ts";
 * const table = new ModelTable((m) => m);
 * const sync = new StoreSync(storeVersions(await ModelStore.open("/srv/models")), table, {
 *   onStale: (state, why) => console.log(`${state.name}: ${why}`),
 * });
 * const version = await sync.read("stories260K"); // the file to load, and what to compare later
 * sync.close();
 * ```
 * @module
 */
import type { ModelState } from "./model_state.ts";
import type { ModelTable } from "./model_table.ts";
import type { StoredVersion, StoredVersions } from "./stored_versions.ts";

/** What {@link StoreSync} tells its owner. */
export interface StoreSyncHooks {
  /** `state`'s name is no longer in the store (`removed`) or names other bytes (`changed`). */
  onStale(state: ModelState, reason: "removed" | "changed"): void;
  /** A check that failed (an unreadable store): the model stays as it is until the next one. */
  onError?(state: ModelState, error: unknown): void;
}

/** The router's comparison of its loaded models with the store (see the module doc). */
export class StoreSync {
  readonly #versions: StoredVersions;
  readonly #table: ModelTable;
  readonly #hooks: StoreSyncHooks;
  #watch: { close(): void } | null = null;
  #checking: Promise<void> | null = null;
  #again = false;
  #closed = false;

  constructor(versions: StoredVersions, table: ModelTable, hooks: StoreSyncHooks) {
    this.#versions = versions;
    this.#table = table;
    this.#hooks = hooks;
  }

  /** What the store holds under `name` now, with the file to load (null: nothing); from the first, the store is watched. */
  async read(name: string): Promise<StoredVersion | null> {
    const version = await this.#versions.read(name, { path: true });
    if (!this.#closed && this.#watch === null) this.#watch = this.#versions.watch(() => void this.checkAll());
    return version;
  }

  /** At once: false when the store may hold something else under `state`'s name than it loaded. */
  fresh(state: ModelState): boolean {
    const version = state.version;
    return version === null || state.session === null || this.#versions.unchanged(state.name, version);
  }

  /**
   * Reads `state`'s name in the store again: the same blobs keep it (the manifest file's new identity
   * remembered); nothing, or other blobs, make it stale. Rejects when the store cannot be read.
   */
  async check(state: ModelState): Promise<void> {
    const loaded = state.version;
    if (loaded === null) return;
    const now = await this.#versions.read(state.name);
    if (state.version !== loaded || !this.#table.isLive(state)) return; // decided meanwhile
    if (now === null) this.#hooks.onStale(state, "removed");
    else if (now.digest !== loaded.digest) this.#hooks.onStale(state, "changed");
    else state.version = now;
  }

  /** Checks every loaded model; a change reported during a run makes one more run. */
  checkAll(): Promise<void> {
    if (this.#checking !== null) {
      this.#again = true;
      return this.#checking;
    }
    const run = async () => {
      do {
        this.#again = false;
        for (const state of this.#table.states()) {
          if (this.#closed || state.session === null || state.version === null) continue;
          await this.check(state).catch((e) => this.#hooks.onError?.(state, e));
        }
      } while (this.#again && !this.#closed);
    };
    this.#checking = run().finally(() => this.#checking = null);
    return this.#checking;
  }

  /** Stops watching the store. */
  close(): void {
    this.#closed = true;
    this.#watch?.close();
    this.#watch = null;
  }
}
