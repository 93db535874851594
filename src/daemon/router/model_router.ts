/**
 * The daemon's {@link Router}: model name → a session in its own runner
 * process (runner_session.ts). It wires four parts, one concern each:
 *
 * - **Names** (router_names.ts, model_table.ts): a store name, a reference the store holds (the
 *   `storedName` hook, no network), else the `provide` hook (model_provider.ts: a lockfile or
 *   reference pulling it, its progress reported as `loading_model` phases); when it knows nothing,
 *   the store's error stands (`MODEL_NOT_FOUND`). A model is keyed by its store name: a reference
 *   and that name share one state and one runner (a load that learns its name is already loading
 *   joins that state).
 * - **Room** (router_room.ts, router_memory.ts): at most `maxLoaded` models, their estimated RAM
 *   within `memoryBudget` (default: the free RAM); idle models are evicted least recently used
 *   first, and a load waits for a release when only leased models stand in the way.
 * - **Lifecycle** (router_lifecycle.ts, model_state.ts): shared loads, leases, keep-alive, reloads
 *   for another `contextSize`, crashes, and close; status per model (router_status.ts).
 * - **The store as the truth** (store_sync.ts, with the `versions` option): a model the store no
 *   longer holds, or holds another file under its name, is unloaded and never served again.
 *
 * @example
 * ```ts
 * import { ModelRouter } from "./model_router.ts";
 * import { ModelStore } from "../../store/model_store.ts";
 * import { storeVersions } from "./stored_versions.ts";
 * const store = await ModelStore.open("/srv/models");
 * const router = new ModelRouter({ store, versions: storeVersions(store), maxLoaded: 2, load: { threads: 1 } });
 * const lease = await router.acquire("stories260K");
 * try {
 *   console.log((await lease.session.generate("Once upon a time", { maxTokens: 20 }).result).text);
 * } finally {
 *   lease.release();
 * }
 * await router.close();
 * ```
 * @module
 */
import type { Vocabulary } from "../../inference/backend.ts";
import type { ModelEntry } from "../wire/protocol.ts";
import type { LoadedModel } from "./model_state.ts";
import { ModelTable } from "./model_table.ts";
import type { Lease, ModelSettings, ModelStatus, Router } from "./router.ts";
import { draining } from "./router_errors.ts";
import { RouterLifecycle } from "./router_lifecycle.ts";
import { listModels, loadedFields } from "./router_listing.ts";
import { ModelNames, Moved, type ProvideModel, type StoredName } from "./router_names.ts";
import type { ModelRouterOptions, RouterClock, StartModel } from "./router_options.ts";
import { REAL_CLOCK } from "./model_state.ts";
import { RouterStatus } from "./router_status.ts";
import { vocabularyOf } from "./vocabulary_session.ts";

export type { LoadedModel, ModelRouterOptions, ProvideModel, RouterClock, StartModel, StoredName };

/** The daemon's router (see the module doc). */
export class ModelRouter implements Router {
  readonly #o: ModelRouterOptions;
  readonly #clock: RouterClock;
  readonly #names: ModelNames;
  readonly #table: ModelTable;
  readonly #status = new RouterStatus();
  readonly #life: RouterLifecycle;

  constructor(options: ModelRouterOptions) {
    this.#o = options;
    this.#clock = options.clock ?? REAL_CLOCK;
    this.#names = new ModelNames(options);
    this.#table = new ModelTable((model) => this.#names.keyOf(model));
    this.#life = new RouterLifecycle(options, {
      names: this.#names,
      table: this.#table,
      status: this.#status,
    });
  }

  async acquire(model: string, options: { signal?: AbortSignal } & ModelSettings = {}): Promise<Lease> {
    this.#assertOpen();
    while (true) {
      const state = this.#life.stateFor(model, options);
      if (!this.#life.fresh(state)) {
        await this.#life.check(state); // the same file: kept; else retired, and the next round loads anew
        continue;
      }
      if (options.keepAliveMs !== undefined) state.keepAliveMs = options.keepAliveMs;
      let lease: Lease;
      try {
        lease = await state.acquire(options.signal);
      } catch (e) {
        if (e instanceof Moved) continue; // its name is another state's: join that one
        // A reload for another's context failed, and the model is loaded back: join that load.
        if (options.contextSize === undefined && this.#life.restoredAfter(state)) continue;
        throw e;
      }
      if (this.#life.closed) {
        lease.release();
        throw draining();
      }
      if (!state.wantsOtherContext(options.contextSize)) return lease;
      this.#life.reload(state, options.contextSize!);
      lease.release();
    }
  }

  vocabulary(model: string): Vocabulary | undefined {
    if (this.#life.closed) return undefined;
    const state = this.#table.live(model);
    const vocabulary = state?.session ? vocabularyOf(state.session) : undefined;
    if (vocabulary !== undefined) state!.touch();
    return vocabulary;
  }

  async load(model: string, options: { signal?: AbortSignal } & ModelSettings = {}): Promise<ModelEntry> {
    const lease = await this.acquire(model, options);
    const state = this.#table.live(lease.model);
    lease.release(); // first: its keep-alive starts
    return { name: lease.model, loaded: true, ...(state ? loadedFields(state, this.#clock.now()) : {}) };
  }

  async unload(model: string): Promise<boolean> {
    const state = this.#table.live(model) ?? this.#table.live(await this.#names.storedKeyOf(model));
    if (state === undefined) return false;
    await this.#life.unload(state);
    return true;
  }

  models(): Promise<ModelEntry[]> {
    return listModels(this.#o.store, this.#table.loaded(), this.#clock.now());
  }

  nameOf(model: string): string {
    return this.#names.keyOf(model);
  }

  /** The store names of the loaded models (for `health`), at once. */
  loadedNames(): string[] {
    return [...this.#table.loaded().keys()];
  }

  onStatus(listener: (status: ModelStatus) => void): () => void {
    return this.#status.listen(listener);
  }

  async close(options: { graceMs?: number } = {}): Promise<void> {
    await this.#life.close(options.graceMs ?? 10_000);
  }

  #assertOpen(): void {
    if (this.#life.closed) throw draining();
  }
}
