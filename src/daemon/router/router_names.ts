/**
 * How the router (model_router.ts) tells which stored model a request names,
 * so that every spelling of one model shares one entry and one runner:
 *
 * 1. **a store name** is itself (`ModelStore.modelPathOf`);
 * 2. **a reference the store already holds**, told without the network by
 *    the `storedName` hook (serve: a URL's name whose manifest matches it; an
 *    `hf:` reference pinned to a commit whose manifest records that repo,
 *    commit and file) — no request to any host;
 * 3. otherwise **the provider** (model_provider.ts) resolves it (an unpinned
 *    `hf:` reference asks the Hub which commit it is, as `lode run` does) and
 *    pulls what is missing; it says the name before fetching any byte.
 *
 * The name is reported through `onName` as soon as it is known, and every
 * request string that resolved is remembered ({@link ModelNames.keyOf}), so a
 * later request with the same reference finds the live entry without
 * resolving again.
 * @module
 */
import { isLodeError } from "../../errors.ts";
import type { StatusEvent } from "../../events/status_event.ts";
import type { ModelStore } from "../../store/model_store.ts";

/**
 * Provides a model the store does not have (pulls it as a lockfile or reference says): resolves with its
 * store name and the file to load, or null when it does not know the name. Calls `onName` with the store
 * name as soon as it knows it (before downloading). Reports its progress through `onStatus`
 * (`loading_model` `download` / `verify` phases).
 *
 * @example
 * ```ts
 * import type { ProvideModel } from "./router_names.ts";
 * const fromLockfile: ProvideModel = async (name, { signal }) => null; // knows nothing
 * ```
 */
export type ProvideModel = (
  name: string,
  options: { signal: AbortSignal; onStatus: (event: StatusEvent) => void; onName?: (name: string) => void },
) => Promise<{ name: string; path: string } | null>;

/**
 * The store name of a model a reference names, when the store holds it and that can be told without the
 * network; null otherwise (the provider then resolves it).
 *
 * @example
 * ```ts
 * import type { StoredName } from "./router_names.ts";
 * const none: StoredName = () => Promise.resolve(null);
 * ```
 */
export type StoredName = (reference: string) => Promise<string | null>;

/** Options of {@link ModelNames}. */
export interface ModelNamesOptions {
  store: Pick<ModelStore, "modelPathOf">;
  storedName?: StoredName;
  provide?: ProvideModel;
}

/** Request strings → store names (see the module doc). */
export class ModelNames {
  readonly #o: ModelNamesOptions;
  readonly #aliases = new Map<string, string>();

  constructor(options: ModelNamesOptions) {
    this.#o = options;
  }

  /** The store name `model` resolved to before, else `model` itself. */
  keyOf(model: string): string {
    return this.#aliases.get(model) ?? model;
  }

  /** The store name `model` names when the store tells it without the network (`storedName`), else `model`. */
  async storedKeyOf(model: string): Promise<string> {
    return await this.#o.storedName?.(model) ?? model;
  }

  /**
   * The file `request` names. `onName` gets its store name first (it may throw to stop the resolution:
   * nothing is downloaded then); the provider's phases go to `onStatus`.
   */
  async resolve(
    request: string,
    options: { signal: AbortSignal; onStatus: (event: StatusEvent) => void; onName: (name: string) => void },
  ): Promise<string> {
    const named = (name: string) => {
      if (name !== request) this.#aliases.set(request, name);
      options.onName(name);
    };
    try {
      const path = await this.#o.store.modelPathOf(request);
      named(request);
      return path;
    } catch (e) {
      // Not stored, stored without its bytes, or not a name at all (a reference): the hooks may know.
      const providable = (["MODEL_NOT_FOUND", "BLOB_MISSING", "INVALID_REF"] as const).some((code) =>
        isLodeError(e, code)
      );
      if (!providable) throw e;
      const stored = isLodeError(e, "INVALID_REF") ? await this.#o.storedName?.(request) ?? null : null;
      if (stored !== null) {
        const path = await this.#o.store.modelPathOf(stored).catch(() => null);
        if (path !== null) {
          named(stored);
          return path;
        }
      }
      if (this.#o.provide === undefined) throw e;
      const provided = await this.#o.provide(request, { ...options, onName: named });
      if (provided === null) throw e;
      named(provided.name);
      return provided.path;
    }
  }
}
