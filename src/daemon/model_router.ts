/**
 * The daemon's {@link Router}: model name → a session in its own runner
 * process (runner_session.ts).
 *
 * - **Names** resolve through the store (`ModelStore.modelPathOf`: a blob,
 *   or the primary file of a split model in `links/`); a name the store
 *   lacks (or whose blob is missing), and a reference that is no store name,
 *   go to the `provide` hook (model_provider.ts: a lockfile or reference
 *   pulling it, its progress reported as `loading_model` phases); when it
 *   knows nothing, the store's error stands (`MODEL_NOT_FOUND`). A model is
 *   keyed by the string it was requested with.
 * - **Loads** are shared: concurrent acquires of one model wait for one
 *   runner. A load is abandoned (`INTERRUPTED`) only when every acquirer
 *   waiting for it aborted.
 * - **Leases** pin a model; when the last one is released its keep-alive
 *   starts, and after `keepAliveMs` idle the runner is stopped.
 * - **Room**: at most `maxLoaded` models, and their estimated RAM
 *   (router_memory.ts) within `memoryBudget` (default: the free RAM, counting
 *   what the loaded models would give back). A load that does not fit
 *   evicts idle models, least recently used first. When only leased models
 *   stand in the way it **waits** for a release (loads queue one behind the
 *   other, FIFO; the acquirer's signal ends the wait with `INTERRUPTED`):
 *   requests are short, and failing them would only make clients retry. A
 *   model that could not fit even alone fails at once with
 *   `INSUFFICIENT_MEMORY`.
 * - **Crashes**: when a runner dies, its requests fail with `RUNNER_CRASHED`,
 *   the model is dropped, `restarting` is reported, and the next acquire
 *   loads it again (its phases reported as `restarting`).
 * - **Status** per model: `loading_model` (`checking_local`, the provider's
 *   phases, the runner's `mmap` / `kv_cache`), `capabilities`, `ready`.
 *
 * @example
 * ```ts
 * import { ModelRouter } from "./model_router.ts";
 * const router = new ModelRouter({ store, maxLoaded: 2, keepAliveMs: 5 * 60_000, load: { threads: 1 } });
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
import { isLodeError, LodeError, toLodeError } from "../errors.ts";
import type { StatusEvent } from "../events/status_event.ts";
import type { Session, Vocabulary } from "../inference/backend.ts";
import { readMemAvailable } from "../inference/mem_available.ts";
import type { ModelStore } from "../store/model_store.ts";
import type { ModelEntry } from "./protocol.ts";
import type { Lease, ModelStatus, Router } from "./router.ts";
import { estimateRunnerBytes, insufficientMemory, memoryFit, type MemoryFitInput } from "./router_memory.ts";
import type { RunnerLoadOptions } from "./runner_protocol.ts";
import { startRunnerSession } from "./runner_session.ts";
import { vocabularyOf, withVocabulary } from "./vocabulary_session.ts";
import {
  abortable,
  type EntryClock,
  type LoadedModel,
  loadInterrupted,
  RouterEntry,
} from "./router_entry.ts";

export type { LoadedModel };

/**
 * Provides a model the store does not have (pulls it as a lockfile or reference says): resolves with
 * the file to load, or null when it does not know the name. Reports its progress through `onStatus`
 * (`loading_model` `download` / `verify` phases).
 *
 * @example
 * ```ts
 * import type { ProvideModel } from "./model_router.ts";
 * const fromLockfile: ProvideModel = async (name, { signal }) => null; // knows nothing
 * ```
 */
export type ProvideModel = (
  name: string,
  options: { signal: AbortSignal; onStatus: (event: StatusEvent) => void },
) => Promise<string | null>;

/**
 * Starts a loaded model (default: a runner process with {@link startRunnerSession}).
 *
 * @example
 * ```ts
 * import type { StartModel } from "./model_router.ts";
 * const start: StartModel = (path, o) => startRunnerSession(path, o);
 * ```
 */
export type StartModel = (
  path: string,
  options: { load: RunnerLoadOptions; onStatus: (event: StatusEvent) => void; signal: AbortSignal },
) => Promise<LoadedModel>;

/** A clock and timers (injected in tests): the one the entries read. */
export type RouterClock = EntryClock;

/** Options of {@link ModelRouter}. */
export interface ModelRouterOptions {
  /** Where names resolve to files. */
  store: Pick<ModelStore, "modelPathOf" | "list">;
  /** Models the store lacks (see {@link ProvideModel}); default: none, `MODEL_NOT_FOUND`. */
  provide?: ProvideModel;
  /** How runners load models (context size, threads, GPU, memory check). */
  load?: RunnerLoadOptions;
  /** Idle time before a model is unloaded (default 5 minutes; `Infinity`: never). */
  keepAliveMs?: number;
  /** Most models loaded at once (default 3). */
  maxLoaded?: number;
  /** RAM all loaded models may take, in bytes (default: what is free, see the module doc). */
  memoryBudget?: number;
  /** Bytes a model needs loaded (default {@link estimateRunnerBytes}). */
  estimate?: (path: string, load: RunnerLoadOptions) => Promise<number>;
  /** Free RAM in bytes, undefined when unknown (default: `MemAvailable`). */
  availableRam?: () => Promise<number | undefined>;
  /** Starts a model (default: a runner process). */
  start?: StartModel;
  /**
   * Opens a loaded model's vocabulary in this process, so that tokenize/detokenize skip the runner
   * (see vocabulary_session.ts); default: they go to the runner.
   */
  vocabulary?: (path: string) => Promise<Vocabulary>;
  /** A runner's stderr lines. */
  onLog?: (model: string, line: string) => void;
  clock?: RouterClock;
}

const REAL_CLOCK: RouterClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

/** The daemon's router (see the module doc). */
export class ModelRouter implements Router {
  readonly #o: ModelRouterOptions;
  readonly #clock: RouterClock;
  readonly #keepAliveMs: number;
  readonly #maxLoaded: number;
  readonly #entries = new Map<string, RouterEntry>();
  /** Entries whose runner is being stopped: they still take a slot and memory until it exited. */
  readonly #stopping = new Set<RouterEntry>();
  readonly #listeners = new Set<(status: ModelStatus) => void>();
  /** Models whose runner crashed: their next load is reported as `restarting`. */
  readonly #crashed = new Set<string>();
  #admission: Promise<unknown> = Promise.resolve();
  #changed = Promise.withResolvers<void>();
  #closed = false;

  constructor(options: ModelRouterOptions) {
    this.#o = options;
    this.#clock = options.clock ?? REAL_CLOCK;
    this.#keepAliveMs = options.keepAliveMs ?? 5 * 60_000;
    this.#maxLoaded = options.maxLoaded ?? 3;
    if (!(this.#maxLoaded >= 1)) throw new RangeError("maxLoaded must be at least 1");
  }

  acquire(model: string, options: { signal?: AbortSignal } = {}): Promise<Lease> {
    if (this.#closed) return Promise.reject(draining());
    return this.#entryFor(model).acquire(options.signal).then((lease) => {
      if (!this.#closed) return lease;
      lease.release();
      throw draining();
    });
  }

  vocabulary(model: string): Vocabulary | undefined {
    const entry = this.#entries.get(model);
    const vocabulary = entry?.session ? vocabularyOf(entry.session) : undefined;
    if (vocabulary !== undefined && !this.#closed) entry!.touch();
    return this.#closed ? undefined : vocabulary;
  }

  async load(model: string, options: { signal?: AbortSignal } = {}): Promise<ModelEntry> {
    const lease = await this.acquire(model, options);
    const entry = this.#entries.get(lease.model);
    lease.release();
    return { name: model, loaded: true, ...(entry ? this.#loadedFields(entry) : {}) };
  }

  async unload(model: string): Promise<boolean> {
    const entry = this.#entries.get(model);
    if (entry === undefined) return false;
    entry.unloadWanted = true;
    await entry.ready.catch(() => {});
    await entry.idle();
    if (this.#entries.get(model) === entry) await this.#stop(entry);
    return true;
  }

  async models(): Promise<ModelEntry[]> {
    const { models } = await this.#o.store.list();
    const out: ModelEntry[] = models.map((m) => {
      const entry = this.#entries.get(m.name);
      const loaded = entry?.session != null;
      return {
        name: m.name,
        loaded,
        size_bytes: m.size_bytes,
        digest: m.blob,
        ...(loaded ? this.#loadedFields(entry!) : {}),
      };
    });
    for (const entry of this.#entries.values()) {
      if (entry.session !== null && !models.some((m) => m.name === entry.name)) {
        out.push({ name: entry.name, loaded: true, ...this.#loadedFields(entry) });
      }
    }
    return out;
  }

  onStatus(listener: (status: ModelStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closed = true;
    this.#notify();
    const entries = [...this.#entries.values()];
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

  /** The live entry of `model`, created (and its load started) when there is none. */
  #entryFor(model: string): RouterEntry {
    const existing = this.#entries.get(model);
    if (existing !== undefined) return existing;
    const entry = new RouterEntry(model, this.#clock, {
      onIdle: (e) => this.#onIdle(e),
      onRelease: () => this.#notify(),
    });
    this.#entries.set(model, entry);
    entry.start(this.#bringUp(entry));
    entry.ready.catch(() => {
      if (this.#entries.get(model) === entry) this.#entries.delete(model);
      this.#notify();
    });
    return entry;
  }

  /** Resolve → make room → start the runner → ready. */
  async #bringUp(entry: RouterEntry): Promise<LoadedModel> {
    const { name, signal } = entry;
    const restarting = this.#crashed.has(name);
    const emit = (event: StatusEvent) => {
      const e = restarting && event.status === "loading_model"
        ? { ...event, status: "restarting" as const }
        : event;
      this.#emit({ model: name, event: e });
    };
    entry.path = await this.#resolve(name, signal, emit);
    entry.bytes = await (this.#o.estimate ?? estimateRunnerBytes)(entry.path, this.#o.load ?? {});
    await this.#serialized(() => this.#makeRoom(entry, signal));
    const start: StartModel = this.#o.start ??
      ((path, o) => startRunnerSession(path, { ...o, onLog: (line) => this.#o.onLog?.(name, line) }));
    const started = await start(entry.path, { load: this.#o.load ?? {}, onStatus: emit, signal });
    const { vocabulary } = this.#o;
    const path = entry.path;
    const loaded = vocabulary === undefined ? started : withVocabulary(started, () => vocabulary(path), {
      onError: (e) => this.#o.onLog?.(name, `tokenize stays in the runner: ${toLodeError(e).message}`),
    });
    if (this.#closed || signal.aborted) {
      await loaded.close();
      throw signal.aborted ? loadInterrupted(name) : draining();
    }
    this.#crashed.delete(name);
    void loaded.exited.then((exit) => {
      if (exit.crashed) this.#onCrash(entry);
    });
    this.#emit({ model: name, event: { status: "ready" } });
    return loaded;
  }

  async #resolve(name: string, signal: AbortSignal, emit: (e: StatusEvent) => void): Promise<string> {
    let path: string;
    try {
      path = await this.#o.store.modelPathOf(name);
    } catch (e) {
      // Not stored, stored without its bytes, or not a name at all (a reference): the provider may know.
      const providable = (["MODEL_NOT_FOUND", "BLOB_MISSING", "INVALID_REF"] as const).some((code) =>
        isLodeError(e, code)
      );
      if (!providable || this.#o.provide === undefined) throw e;
      const provided = await this.#o.provide(name, { signal, onStatus: emit });
      if (provided === null) throw e;
      path = provided;
    }
    emit({ status: "loading_model", phase: "checking_local", path });
    return path;
  }

  /** Waits until `entry` fits (slots and memory), evicting idle models least recently used first. */
  async #makeRoom(entry: RouterEntry, signal: AbortSignal): Promise<void> {
    while (true) {
      if (this.#closed) throw draining();
      if (signal.aborted) throw loadInterrupted(entry.name);
      const others = [...this.#entries.values()].filter((e) => e !== entry && e.admitted);
      const holders = [...others, ...this.#stopping];
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
    if (free === undefined) return undefined;
    const starting = others.filter((e) => e.session === null).reduce((sum, e) => sum + e.bytes, 0);
    return Math.max(0, free - starting);
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
    this.#stopping.add(entry);
    try {
      await entry.stop();
    } finally {
      this.#stopping.delete(entry);
      this.#notify();
    }
  }

  #onIdle(entry: RouterEntry): void {
    if (entry.unloadWanted || this.#closed) return; // unload() / close() stop it
    if (this.#keepAliveMs === Infinity) return;
    entry.expireAfter(this.#keepAliveMs, () => {
      if (this.#entries.get(entry.name) === entry && entry.evictable) void this.#stop(entry);
    });
  }

  #onCrash(entry: RouterEntry): void {
    if (this.#entries.get(entry.name) === entry) this.#entries.delete(entry.name);
    entry.crashed();
    this.#crashed.add(entry.name);
    if (!this.#closed) {
      this.#emit({
        model: entry.name,
        event: { status: "restarting", phase: "checking_local", path: entry.path ?? "" },
      });
    }
    this.#notify();
  }

  #loadedFields(entry: RouterEntry): Partial<ModelEntry> {
    const session = entry.session;
    if (session === null) return {};
    const expiresAt = entry.expiresAt;
    return {
      context_size: session.info.contextSize,
      capabilities: session.capabilities,
      expires_in_ms: expiresAt === null ? null : Math.max(0, Math.round(expiresAt - this.#clock.now())),
    };
  }

  #emit(status: ModelStatus): void {
    for (const listener of this.#listeners) {
      try {
        listener(status);
      } catch { /* a listener's failure is its own */ }
    }
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

function draining(): LodeError {
  return new LodeError("DRAINING", "the daemon is shutting down and loads no more models");
}

/** The Session type the router hands out (re-exported for request handlers). */
export type { Session };
