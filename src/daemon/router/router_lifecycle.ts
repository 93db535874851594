/**
 * The life of the router's models (model_router.ts), from a load to the
 * runner's end:
 *
 * - **Load**: resolve the name (router_names.ts; the store's version of it,
 *   store_sync.ts) → for a reload, wait for the old runner to stop → make
 *   room (router_room.ts) → start the runner → `ready`. The runner loads the
 *   model with `load.sequences` sequences, each with the context a request
 *   gets ({@link runnerLoad}). Concurrent acquires
 *   share one load (model_state.ts); it is abandoned (`INTERRUPTED`) only when
 *   every acquirer waiting for it aborted. A load that fails after its phases
 *   were reported ends with `load_failed` (router_status.ts).
 * - **Keep-alive**: after `keepAliveMs` without a lease (or a tokenize from
 *   its vocabulary) a model's runner is stopped (0: at once): `unloaded`,
 *   `idle`. Evictions for room are `evicted`, the `unload` op `unload`.
 * - **Reload** with another context once the model's leases are released
 *   (`restarting`, `reason: context_size`); if that fails, the model is loaded
 *   back as it was (`reason: reload_failed`), once.
 * - **Retire**: a model the store no longer holds, or holds another file
 *   under its name, takes no new lease; its runner stops when its running
 *   requests are done (`unloaded`, `removed` / `changed`).
 * - **Crash**: when a runner dies, its requests fail with `RUNNER_CRASHED`,
 *   the model is dropped, `restarting` is reported, and the next acquire
 *   loads it again (its phases reported as `restarting`).
 * - **Close**: leases get a grace period, then every load is abandoned and
 *   every runner stopped.
 *
 * @example
 * ```ts
 * import { RouterLifecycle } from "./router_lifecycle.ts";
 * import { ModelNames } from "./router_names.ts";
 * import { ModelTable } from "./model_table.ts";
 * import { RouterStatus } from "./router_status.ts";
 * import { ModelStore } from "../../store/model_store.ts";
 * const store = await ModelStore.open("/srv/models");
 * const names = new ModelNames({ store });
 * const table = new ModelTable((m) => names.keyOf(m));
 * const life = new RouterLifecycle({ store, maxLoaded: 2 }, { names, table, status: new RouterStatus() });
 * const lease = await life.stateFor("stories260K", {}).acquire();
 * lease.release();
 * await life.close(0);
 * ```
 * @module
 */
import { toLodeError } from "../../errors.ts";
import type { StatusEvent, UnloadReason } from "../../events/status_event.ts";
import type { RunnerLoadOptions } from "../runner/runner_protocol.ts";
import { startRunnerSession } from "../runner/runner_session.ts";
import { abortable } from "./abortable.ts";
import { type LoadedModel, ModelState, REAL_CLOCK, type StateClock } from "./model_state.ts";
import type { ModelTable } from "./model_table.ts";
import type { ModelSettings } from "./router.ts";
import { draining, loadInterrupted, removedWhileLoading } from "./router_errors.ts";
import { estimateRunnerBytes } from "./router_memory.ts";
import { type ModelNames, Moved } from "./router_names.ts";
import type { ModelRouterOptions, StartModel } from "./router_options.ts";
import { RouterRoom } from "./router_room.ts";
import type { RouterStatus } from "./router_status.ts";
import { StoreSync } from "./store_sync.ts";
import type { StoredVersion } from "./stored_versions.ts";
import { withVocabulary } from "./vocabulary_session.ts";

/** The router's parts a lifecycle works with. */
export interface LifecycleParts {
  names: ModelNames;
  table: ModelTable;
  status: RouterStatus;
}

/** What is known of a model before its load: a reload's or a restore's file, and the state it replaces. */
interface Known {
  path?: string;
  version?: StoredVersion | null;
  after?: ModelState;
}

/** Loads, keeps, reloads, retires and stops the router's models (see the module doc). */
export class RouterLifecycle {
  readonly #o: ModelRouterOptions;
  readonly #clock: StateClock;
  readonly #keepAliveMs: number;
  readonly #names: ModelNames;
  readonly #table: ModelTable;
  readonly #status: RouterStatus;
  readonly #room: RouterRoom;
  readonly #store: StoreSync | null;
  /** Failed reloads whose model is being loaded again as it was ({@link #restore}). */
  readonly #restoredAfter = new WeakSet<ModelState>();
  #closed = false;

  constructor(options: ModelRouterOptions, parts: LifecycleParts) {
    this.#o = options;
    this.#clock = options.clock ?? REAL_CLOCK;
    this.#keepAliveMs = options.keepAliveMs ?? 5 * 60_000;
    ({ names: this.#names, table: this.#table, status: this.#status } = parts);
    this.#room = new RouterRoom({
      table: parts.table,
      maxLoaded: options.maxLoaded ?? 3,
      memoryBudget: options.memoryBudget,
      availableRam: options.availableRam,
      evict: (state) => this.stop(state, "evicted"),
      closed: () => this.#closed,
    });
    this.#store = options.versions === undefined ? null : new StoreSync(options.versions, parts.table, {
      onStale: (state, reason) => this.retire(state, reason),
      onError: (state, e) => options.notice?.(`${state.name}: checking the store: ${toLodeError(e).message}`),
    });
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The live state of `model`, created (and its load started) when there is none. */
  stateFor(model: string, settings: ModelSettings): ModelState {
    return this.#table.live(model) ?? this.#create(model, settings, {});
  }

  /** At once: false when the store may hold something else under `state`'s name than it loaded. */
  fresh(state: ModelState): boolean {
    return this.#store?.fresh(state) ?? true;
  }

  /** Compares `state` with the store again; retires it when the store no longer holds what it loaded. */
  async check(state: ModelState): Promise<void> {
    await this.#store?.check(state);
  }

  /** True when `state` was a reload that failed and its model is being loaded back as it was. */
  restoredAfter(state: ModelState): boolean {
    return this.#restoredAfter.has(state);
  }

  /** Replaces `old` by a state loading the model with `contextSize` once `old`'s leases are released. */
  reload(old: ModelState, contextSize: number): void {
    if (!this.#table.isLive(old)) return; // replaced already
    this.#table.drop(old);
    this.#table.retiring.add(old);
    old.unloadWanted = true;
    this.#status.restarting(old.name, "context_size");
    this.#o.notice?.(
      `${old.name}: reloading with context size ${contextSize} (loaded with ${old.session?.info.contextSize})` +
        " once its requests are done",
    );
    const known = { path: old.path!, version: old.version, after: old };
    this.#create(old.name, { contextSize, keepAliveMs: old.keepAliveMs }, known);
    void old.idle().then(() => this.stop(old));
  }

  /**
   * `state`'s model left the store (`removed`) or the store holds another file under its name (`changed`):
   * no new lease; stopped once its leases are released. Requests naming it load what the store holds now.
   */
  retire(state: ModelState, reason: "removed" | "changed"): void {
    if (!this.#table.isLive(state)) return;
    this.#table.drop(state);
    this.#names.forget(state.name);
    this.#table.retiring.add(state);
    state.unloadWanted = true;
    const what = reason === "removed"
      ? "no longer in the store"
      : "the store holds another file under its name";
    this.#o.notice?.(`${state.name}: ${what}; unloading it once its requests are done`);
    void state.idle().then(() => this.stop(state, reason));
  }

  /** Unloads `state` once its leases are released (the `unload` op). */
  async unload(state: ModelState): Promise<void> {
    state.unloadWanted = true;
    await state.ready.catch(() => {});
    await state.idle();
    if (this.#table.isLive(state)) await this.stop(state, "unload");
  }

  /**
   * Stops `state`'s runner (it must be idle or the router closing); it holds its room until it exited. A
   * `reason` is reported (`unloaded`) once it has, when the model was loaded.
   */
  async stop(state: ModelState, reason?: UnloadReason): Promise<void> {
    this.#table.drop(state);
    if (this.#table.stopping.has(state) || state.stopping) return await state.stopped;
    this.#table.retiring.delete(state);
    this.#table.stopping.add(state);
    try {
      await state.stop();
    } finally {
      this.#table.stopping.delete(state);
      this.#room.changed();
    }
    if (reason !== undefined && state.session !== null) this.#status.unloaded(state.name, reason);
  }

  /** Unloads everything: waits for leases up to `graceMs`, then abandons loads and stops every runner. */
  async close(graceMs: number): Promise<void> {
    this.#closed = true;
    this.#store?.close();
    this.#room.changed();
    const states = this.#table.held();
    let timer: unknown;
    const grace = new Promise<void>((r) => (timer = this.#clock.setTimeout(r, graceMs)));
    await Promise.race([
      Promise.all(states.map((s) => s.ready.catch(() => {}).then(() => s.idle()))),
      grace,
    ]);
    this.#clock.clearTimeout(timer);
    for (const s of states) s.abortLoad();
    await Promise.all([
      ...states.map((s) => this.stop(s)),
      ...[...this.#table.stopping].map((s) => s.stopped),
    ]);
  }

  #create(key: string, settings: ModelSettings, known: Known): ModelState {
    const state = new ModelState(key, this.#clock, {
      onIdle: (s) => this.#onIdle(s),
      onRelease: () => this.#room.changed(),
    });
    state.contextSize = settings.contextSize ?? this.#o.load?.contextSize ?? null;
    state.keepAliveMs = settings.keepAliveMs ?? this.#keepAliveMs;
    this.#table.add(state);
    state.start(this.#bringUp(state, known));
    state.ready.catch((error) => {
      this.#table.drop(state);
      if (!(error instanceof Moved)) this.#status.loadFailed(state.name, error, { quiet: this.#closed });
      if (known.after) this.#restore(known.after, state, error);
      this.#room.changed();
    });
    return state;
  }

  /**
   * `failed`, the reload of `old` with another context, failed or was abandoned by all who asked: `old` is
   * loaded again as it was (context, keep-alive), unless the model was unloaded, the router is closing or
   * the name is taken. Once: if that fails too, the model stays unloaded.
   */
  #restore(old: ModelState, failed: ModelState, error: unknown): void {
    this.#status.reloadFailed(old.name);
    if (this.#closed || failed.unloadWanted || this.#table.has(old.name) || old.path === null) return;
    const contextSize = old.session?.info.contextSize ?? old.contextSize ?? undefined;
    const how = contextSize === undefined ? "" : ` with context size ${contextSize}`;
    this.#o.notice?.(
      `${old.name}: the reload failed (${toLodeError(error).message}); loading it again${how}`,
    );
    this.#status.restarting(old.name, "reload_failed");
    this.#restoredAfter.add(failed);
    const known = { path: old.path, version: old.version };
    this.#create(old.name, { contextSize, keepAliveMs: old.keepAliveMs }, known);
  }

  /** Resolve → (a reload: wait for the old runner to stop) → make room → start the runner → ready. */
  async #bringUp(state: ModelState, known: Known): Promise<LoadedModel> {
    const { signal } = state;
    const emit = (event: StatusEvent) => this.#status.phase(state.name, event);
    let path = known.path ?? await this.#names.resolve(state.name, {
      signal,
      onStatus: emit,
      onName: (name) => this.#table.named(state, name),
    });
    if (known.path !== undefined) state.version = known.version ?? null;
    else if (this.#store !== null) {
      // The file to load is the one the store's manifest names now, read with what to compare later.
      const version = await this.#store.read(state.name);
      if (version === null) throw removedWhileLoading(state.name);
      state.version = version;
      path = version.path ?? path;
    }
    state.path = path;
    emit({ status: "loading_model", phase: "checking_local", path });
    if (known.after) await abortable(known.after.stopped, signal, () => loadInterrupted(state.name));
    const load = runnerLoad(this.#o.load, state.contextSize);
    state.bytes = await (this.#o.estimate ?? estimateRunnerBytes)(path, load);
    await this.#room.admit(state, signal);
    const name = state.name;
    const start: StartModel = this.#o.start ??
      ((path, o) => startRunnerSession(path, { ...o, onLog: (line) => this.#o.onLog?.(name, line) }));
    const started = await start(path, { load, onStatus: emit, signal, name });
    if (this.#closed || signal.aborted) {
      await started.close();
      throw signal.aborted ? loadInterrupted(name) : draining();
    }
    const { vocabulary } = this.#o;
    // The vocabulary is llama.cpp's: only a model in a runner has it (a backend plugin's tokenizes itself).
    const loaded = vocabulary === undefined || started.pid === undefined
      ? started
      : withVocabulary(started, () => vocabulary(path), {
        onError: (e) => this.#o.onLog?.(name, `tokenize stays in the runner: ${toLodeError(e).message}`),
      });
    void loaded.exited.then((exit) => {
      if (exit.crashed) this.#onCrash(state);
    });
    this.#status.ready(name);
    return loaded;
  }

  #onIdle(state: ModelState): void {
    if (state.unloadWanted || this.#closed) return; // unload(), close(), a reload or a retire stop it
    const expire = () => {
      if (this.#table.isLive(state) && state.evictable) void this.stop(state, "idle");
    };
    if (state.keepAliveMs <= 0) expire();
    else if (state.keepAliveMs !== Infinity) state.expireAfter(state.keepAliveMs, expire);
  }

  #onCrash(state: ModelState): void {
    this.#table.drop(state);
    this.#table.retiring.delete(state);
    state.crashed();
    this.#status.crashed(state.name, state.path ?? "", { quiet: this.#closed });
    this.#room.changed();
  }
}

/**
 * What a runner loads: `load` with its `sequences` (the requests that run at once), each sequence getting
 * `contextSize` tokens (a request's context), so the context is `sequences × contextSize`; without a
 * context size the backend gives each sequence the model's default.
 */
export function runnerLoad(
  load: RunnerLoadOptions | undefined,
  contextSize: number | null,
): RunnerLoadOptions {
  const sequences = load?.sequences ?? 1;
  return {
    ...load,
    ...(contextSize !== null ? { contextSize: contextSize * sequences } : {}),
  };
}
