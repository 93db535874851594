/**
 * The daemon's {@link Router}: model name → a session in its own runner
 * process (runner_session.ts).
 *
 * - **Names** resolve through router_names.ts: a store name, a reference the store holds (the
 *   `storedName` hook, no network), else the `provide` hook (model_provider.ts: a lockfile or
 *   reference pulling it, its progress reported as `loading_model` phases); when it knows nothing,
 *   the store's error stands (`MODEL_NOT_FOUND`). A model is keyed by its store name: a reference
 *   and that name share one entry and one runner (a load that learns its name is already loading
 *   joins that entry).
 * - **Settings** per model (`acquire`/`load` options): `keepAliveMs`, and `contextSize` — a model
 *   loaded with another context is reloaded once its leases are released (reported as `restarting`,
 *   `reason: context_size`); if that fails, it is loaded back as it was (`reason: reload_failed`).
 * - **Loads** are shared: concurrent acquires of one model wait for one runner. A load is abandoned
 *   (`INTERRUPTED`) only when every acquirer waiting for it aborted.
 * - **Leases** pin a model; after `keepAliveMs` without one (or a tokenize from its vocabulary,
 *   `vocabulary()`) its runner is stopped (0: at once).
 * - **Room**: at most `maxLoaded` models, and their estimated RAM (router_memory.ts) within
 *   `memoryBudget` (default: the free RAM, counting what the loaded models would give back). A load
 *   that does not fit evicts idle models, least recently used first. When only leased models stand
 *   in the way it **waits** for a release (loads queue one behind the other, FIFO; the acquirer's
 *   signal ends the wait with `INTERRUPTED`): requests are short, and failing them would only make
 *   clients retry. A model that could not fit even alone fails at once with `INSUFFICIENT_MEMORY`.
 * - **Crashes**: when a runner dies, its requests fail with `RUNNER_CRASHED`, the model is dropped,
 *   `restarting` is reported, and the next acquire loads it again (its phases reported as
 *   `restarting`).
 * - **Status** per model (router_status.ts): `loading_model` phases, `ready`.
 * @module
 */
import { toLodeError } from "../../errors.ts";
import type { StatusEvent } from "../../events/status_event.ts";
import type { Vocabulary } from "../../inference/backend.ts";
import { readMemAvailable } from "../../inference/mem_available.ts";
import type { ModelEntry } from "../wire/protocol.ts";
import type { Lease, ModelSettings, ModelStatus, Router } from "./router.ts";
import { ModelNames, type ProvideModel, type StoredName } from "./router_names.ts";
import { RouterStatus } from "./router_status.ts";
import { estimateRunnerBytes, insufficientMemory, memoryFit, type MemoryFitInput } from "./router_memory.ts";
import type { RunnerLoadOptions } from "../runner/runner_protocol.ts";
import { startRunnerSession } from "../runner/runner_session.ts";
import { vocabularyOf, withVocabulary } from "./vocabulary_session.ts";
import {
  abortable,
  draining,
  loadedFields,
  type LoadedModel,
  loadInterrupted,
  Moved,
  RouterEntry,
  wantsOtherContext,
} from "./router_entry.ts";
import { type ModelRouterOptions, REAL_CLOCK, type RouterClock, type StartModel } from "./router_options.ts";

export type { LoadedModel, ModelRouterOptions, ProvideModel, RouterClock, StartModel, StoredName };

/** The daemon's router (see the module doc). */
export class ModelRouter implements Router {
  readonly #o: ModelRouterOptions;
  readonly #clock: RouterClock;
  readonly #keepAliveMs: number;
  readonly #maxLoaded: number;
  readonly #names: ModelNames;
  /** Live entries by store name (by the request string while it resolves). */
  readonly #entries = new Map<string, RouterEntry>();
  /** Entries whose runner is being stopped: they still take a slot and memory until it exited. */
  readonly #stopping = new Set<RouterEntry>();
  /** Entries replaced by a reload with another context: stopped once idle; they hold their room till then. */
  readonly #retiring = new Set<RouterEntry>();
  /** Failed reloads whose model is being loaded again as it was ({@link #restore}). */
  readonly #restoredAfter = new WeakSet<RouterEntry>();
  readonly #status = new RouterStatus();
  #admission: Promise<unknown> = Promise.resolve();
  #changed = Promise.withResolvers<void>();
  #closed = false;

  constructor(options: ModelRouterOptions) {
    this.#o = options;
    this.#clock = options.clock ?? REAL_CLOCK;
    this.#keepAliveMs = options.keepAliveMs ?? 5 * 60_000;
    this.#maxLoaded = options.maxLoaded ?? 3;
    if (!(this.#maxLoaded >= 1)) throw new RangeError("maxLoaded must be at least 1");
    this.#names = new ModelNames(options);
  }

  async acquire(model: string, options: { signal?: AbortSignal } & ModelSettings = {}): Promise<Lease> {
    this.#assertOpen();
    while (true) {
      const entry = this.#entryFor(model, options);
      if (options.keepAliveMs !== undefined) entry.keepAliveMs = options.keepAliveMs;
      let lease: Lease;
      try {
        lease = await entry.acquire(options.signal);
      } catch (e) {
        if (e instanceof Moved) continue; // its name is another entry's: join that one
        // A reload for another's context failed, and the model is loaded back: join that load.
        if (options.contextSize === undefined && this.#restoredAfter.has(entry)) continue;
        throw e;
      }
      if (this.#closed) {
        lease.release();
        throw draining();
      }
      if (!wantsOtherContext(entry, options.contextSize)) return lease;
      this.#reload(entry, options.contextSize!);
      lease.release();
    }
  }

  vocabulary(model: string): Vocabulary | undefined {
    if (this.#closed) return undefined;
    const entry = this.#live(model);
    const vocabulary = entry?.session ? vocabularyOf(entry.session) : undefined;
    if (vocabulary !== undefined) entry!.touch();
    return vocabulary;
  }

  async load(model: string, options: { signal?: AbortSignal } & ModelSettings = {}): Promise<ModelEntry> {
    const lease = await this.acquire(model, options);
    const entry = this.#entries.get(lease.model);
    lease.release(); // first: its keep-alive starts
    return { name: lease.model, loaded: true, ...(entry ? loadedFields(entry, this.#clock.now()) : {}) };
  }

  async unload(model: string): Promise<boolean> {
    const entry = this.#live(model) ?? this.#live(await this.#names.storedKeyOf(model));
    if (entry === undefined) return false;
    entry.unloadWanted = true;
    await entry.ready.catch(() => {});
    await entry.idle();
    if (this.#entries.get(entry.name) === entry) await this.#stop(entry);
    return true;
  }

  async models(): Promise<ModelEntry[]> {
    const { models } = await this.#o.store.list();
    const loaded = this.#loaded();
    const out: ModelEntry[] = models.map((m) => {
      const entry = loaded.get(m.name);
      return {
        name: m.name,
        loaded: entry !== undefined,
        size_bytes: m.size_bytes,
        digest: m.blob,
        ...(entry ? loadedFields(entry, this.#clock.now()) : {}),
      };
    });
    for (const [name, entry] of loaded) {
      if (!models.some((m) => m.name === name)) {
        out.push({ name, loaded: true, ...loadedFields(entry, this.#clock.now()) });
      }
    }
    return out;
  }

  nameOf(model: string): string {
    return this.#names.keyOf(model);
  }

  /** The store names of the loaded models (for `health`), at once. */
  loadedNames(): string[] {
    return [...this.#loaded().keys()];
  }

  onStatus(listener: (status: ModelStatus) => void): () => void {
    return this.#status.listen(listener);
  }

  async close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closed = true;
    this.#notify();
    const entries = [...this.#entries.values(), ...this.#retiring];
    let timer: unknown;
    const grace = new Promise<void>((r) => (timer = this.#clock.setTimeout(r, options.graceMs ?? 10_000)));
    await Promise.race([
      Promise.all(entries.map((e) => e.ready.catch(() => {}).then(() => e.idle()))),
      grace,
    ]);
    this.#clock.clearTimeout(timer);
    for (const e of entries) e.abortLoad();
    await Promise.all([...entries.map((e) => this.#stop(e)), ...[...this.#stopping].map((e) => e.stopped)]);
  }

  /** The live entry `model` names (by its store name, or the request string while resolving). */
  #live(model: string): RouterEntry | undefined {
    return this.#entries.get(this.#names.keyOf(model)) ?? this.#entries.get(model);
  }

  /** The loaded entry of each model, by store name (a retiring one while its replacement loads). */
  #loaded(): Map<string, RouterEntry> {
    const loaded = new Map<string, RouterEntry>();
    for (const e of [...this.#entries.values(), ...this.#retiring]) {
      if (e.session !== null && !loaded.has(e.name)) loaded.set(e.name, e);
    }
    return loaded;
  }

  /** The live entry of `model`, created (and its load started) when there is none. */
  #entryFor(model: string, settings: ModelSettings): RouterEntry {
    return this.#live(model) ?? this.#newEntry(model, settings, {});
  }

  #newEntry(
    key: string,
    settings: ModelSettings,
    known: { path?: string; after?: RouterEntry },
  ): RouterEntry {
    const entry = new RouterEntry(key, this.#clock, {
      onIdle: (e) => this.#onIdle(e),
      onRelease: () => this.#notify(),
    });
    entry.contextSize = settings.contextSize ?? this.#o.load?.contextSize ?? null;
    entry.keepAliveMs = settings.keepAliveMs ?? this.#keepAliveMs;
    this.#entries.set(key, entry);
    entry.start(this.#bringUp(entry, known));
    entry.ready.catch((error) => {
      if (this.#entries.get(entry.name) === entry) this.#entries.delete(entry.name);
      if (known.after) this.#restore(known.after, entry, error);
      this.#notify();
    });
    return entry;
  }

  /**
   * `failed`, the reload of `old` with another context, failed or was abandoned by all who asked: `old` is
   * loaded again as it was (context, keep-alive), unless the model was unloaded, the router is closing or
   * the name is taken. Once: if that fails too, the model stays unloaded.
   */
  #restore(old: RouterEntry, failed: RouterEntry, error: unknown): void {
    this.#status.reloadFailed(old.name);
    if (this.#closed || failed.unloadWanted || this.#entries.has(old.name) || old.path === null) return;
    const contextSize = old.session?.info.contextSize ?? old.contextSize ?? undefined;
    const how = contextSize === undefined ? "" : ` with context size ${contextSize}`;
    this.#o.notice?.(
      `${old.name}: the reload failed (${toLodeError(error).message}); loading it again${how}`,
    );
    this.#status.restarting(old.name, "reload_failed");
    this.#restoredAfter.add(failed);
    this.#newEntry(old.name, { contextSize, keepAliveMs: old.keepAliveMs }, { path: old.path });
  }

  /** Resolve → (a reload: wait for the old runner to stop) → make room → start the runner → ready. */
  async #bringUp(entry: RouterEntry, known: { path?: string; after?: RouterEntry }): Promise<LoadedModel> {
    const { signal } = entry;
    const emit = (event: StatusEvent) => this.#status.phase(entry.name, event);
    const path = known.path ?? await this.#names.resolve(entry.name, {
      signal,
      onStatus: emit,
      onName: (name) => this.#named(entry, name),
    });
    entry.path = path;
    emit({ status: "loading_model", phase: "checking_local", path });
    if (known.after) await abortable(known.after.stopped, signal, () => loadInterrupted(entry.name));
    const load: RunnerLoadOptions = {
      ...this.#o.load,
      ...(entry.contextSize !== null ? { contextSize: entry.contextSize } : {}),
    };
    entry.bytes = await (this.#o.estimate ?? estimateRunnerBytes)(path, load);
    await this.#serialized(() => this.#makeRoom(entry, signal));
    const name = entry.name;
    const start: StartModel = this.#o.start ??
      ((path, o) => startRunnerSession(path, { ...o, onLog: (line) => this.#o.onLog?.(name, line) }));
    const started = await start(path, { load, onStatus: emit, signal });
    if (this.#closed || signal.aborted) {
      await started.close();
      throw signal.aborted ? loadInterrupted(name) : draining();
    }
    const { vocabulary } = this.#o;
    const loaded = vocabulary === undefined ? started : withVocabulary(started, () => vocabulary(path), {
      onError: (e) => this.#o.onLog?.(name, `tokenize stays in the runner: ${toLodeError(e).message}`),
    });
    void loaded.exited.then((exit) => {
      if (exit.crashed) this.#onCrash(entry);
    });
    this.#status.ready(name);
    return loaded;
  }

  /** `entry` is the model stored as `name`: keyed by it, or — another entry has it — its acquirers move there. */
  #named(entry: RouterEntry, name: string): void {
    if (entry.name === name) return;
    const other = this.#entries.get(name);
    if (other !== undefined && other !== entry) throw new Moved(name);
    if (this.#entries.get(entry.name) === entry) this.#entries.delete(entry.name);
    entry.name = name;
    this.#entries.set(name, entry);
  }

  /** Replaces `old` by an entry loading the model with `contextSize` once `old`'s leases are released. */
  #reload(old: RouterEntry, contextSize: number): void {
    if (this.#entries.get(old.name) !== old) return; // replaced already
    this.#entries.delete(old.name);
    this.#retiring.add(old);
    old.unloadWanted = true;
    this.#status.restarting(old.name, "context_size");
    this.#o.notice?.(
      `${old.name}: reloading with context size ${contextSize} (loaded with ${old.session?.info.contextSize})` +
        " once its requests are done",
    );
    this.#newEntry(old.name, { contextSize, keepAliveMs: old.keepAliveMs }, { path: old.path!, after: old });
    void old.idle().then(() => this.#stop(old));
  }

  /** Waits until `entry` fits (slots and memory), evicting idle models least recently used first. */
  async #makeRoom(entry: RouterEntry, signal: AbortSignal): Promise<void> {
    while (true) {
      if (this.#closed) throw draining();
      if (signal.aborted) throw loadInterrupted(entry.name);
      const others = [...this.#entries.values()].filter((e) => e !== entry && e.admitted);
      const holders = [...others, ...this.#stopping, ...this.#retiring];
      const fit: MemoryFitInput = {
        need: entry.bytes,
        loaded: holders.reduce((sum, e) => sum + e.bytes, 0),
        budget: this.#o.memoryBudget,
        available: this.#o.memoryBudget === undefined ? await this.#freeRam(others) : undefined,
      };
      const memory = memoryFit(fit);
      if (memory === "never") throw insufficientMemory(entry.name, fit);
      if (memory === "fits" && holders.length < this.#maxLoaded) {
        entry.admitted = true;
        return;
      }
      const victim = others.filter((e) => e.evictable).sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (victim !== undefined) {
        await this.#stop(victim);
        continue;
      }
      const changed = this.#changed.promise;
      await abortable(changed, signal, () => loadInterrupted(entry.name));
    }
  }

  /** Free RAM, less what models admitted but still starting are about to take. */
  async #freeRam(others: RouterEntry[]): Promise<number | undefined> {
    const free = await (this.#o.availableRam ?? readMemAvailable)();
    const starting = others.filter((e) => e.session === null).reduce((sum, e) => sum + e.bytes, 0);
    return free === undefined ? undefined : Math.max(0, free - starting);
  }

  /** Runs `fn` after every earlier admission (loads make room one at a time, FIFO). */
  #serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#admission.then(fn);
    this.#admission = run.catch(() => {});
    return run;
  }

  /** Stops `entry`'s runner (it must be idle or the router closing); it holds its room until it exited. */
  async #stop(entry: RouterEntry): Promise<void> {
    if (this.#entries.get(entry.name) === entry) this.#entries.delete(entry.name);
    if (this.#stopping.has(entry) || entry.stopping) return await entry.stopped;
    this.#retiring.delete(entry);
    this.#stopping.add(entry);
    try {
      await entry.stop();
    } finally {
      this.#stopping.delete(entry);
      this.#notify();
    }
  }

  #onIdle(entry: RouterEntry): void {
    if (entry.unloadWanted || this.#closed) return; // unload() / close() / a reload stop it
    const expire = () => {
      if (this.#entries.get(entry.name) === entry && entry.evictable) void this.#stop(entry);
    };
    if (entry.keepAliveMs <= 0) expire();
    else if (entry.keepAliveMs !== Infinity) entry.expireAfter(entry.keepAliveMs, expire);
  }

  #onCrash(entry: RouterEntry): void {
    if (this.#entries.get(entry.name) === entry) this.#entries.delete(entry.name);
    this.#retiring.delete(entry);
    entry.crashed();
    this.#status.crashed(entry.name, entry.path ?? "", { quiet: this.#closed });
    this.#notify();
  }

  /** Wakes loads waiting for room. */
  #notify(): void {
    const changed = this.#changed;
    this.#changed = Promise.withResolvers<void>();
    changed.resolve();
  }

  #assertOpen(): void {
    if (this.#closed) throw draining();
  }
}
