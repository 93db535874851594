/**
 * One model in the router (model_router.ts): its shared load, the acquirers
 * waiting for it, its leases, its keep-alive timer and its stop. The router
 * decides *when* to load, evict and stop; an entry keeps the counts those
 * decisions read, and tells the router when it becomes idle.
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { Session } from "../../inference/backend.ts";
import type { ModelEntry } from "../wire/protocol.ts";
import type { Lease } from "./router.ts";

/**
 * A model as the router holds it: a session whose end it can watch (a {@link RunnerSession} is one).
 *
 * @example
 * ```ts
 * import type { LoadedModel } from "./router_entry.ts";
 * const onCrash = (m: LoadedModel, f: () => void) => m.exited.then((x) => x.crashed && f());
 * ```
 */
export interface LoadedModel extends Session {
  /** The runner's process id, when the model runs in one. */
  readonly pid?: number;
  /** Settles when the model is gone: `crashed` unless `close()` ended it. Never rejects. */
  readonly exited: Promise<{ crashed: boolean }>;
}

/** The clock an entry reads for LRU order and keep-alive. */
export interface EntryClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What an entry tells the router. */
export interface EntryHooks {
  /** Loaded, and no lease or acquirer left. */
  onIdle(entry: RouterEntry): void;
  /** A lease was released (loads waiting for room may proceed). */
  onRelease(): void;
}

/** The state of one model in the router. */
export class RouterEntry {
  /** The model's name: as requested while it resolves, then the name it is stored under (`rename`). */
  name: string;
  /** The context it is loaded with, as asked (null: the backend's choice). */
  contextSize: number | null = null;
  /** Idle time before it is unloaded (0: at once; `Infinity`: never). */
  keepAliveMs = Infinity;
  /** The file loaded (known once resolved). */
  path: string | null = null;
  /** Estimated bytes of RAM while loaded. */
  bytes = 0;
  /** True once the router gave it a slot and memory. */
  admitted = false;
  /** `unload()` asked for it: stopped once idle, no keep-alive. */
  unloadWanted = false;
  /** The loaded model; null while loading. */
  session: LoadedModel | null = null;
  /** Settles with the loaded model, or rejects with why the load failed. */
  ready: Promise<LoadedModel> = Promise.reject(new Error("not started"));
  lastUsed: number;
  /** When the keep-alive ends (clock time), while idle and loaded. */
  expiresAt: number | null = null;
  stopping = false;
  /** Settles when stopped (or crashed). */
  readonly stopped: Promise<void>;
  #leases = 0;
  #waiters = 0;
  #dead = false;
  #timer: unknown = undefined;
  /** When the armed timer fires (clock time); it may fire before {@link expiresAt} and re-arm. */
  #timerAt = Infinity;
  #expire: () => void = () => {};
  #idleWaiters: (() => void)[] = [];
  readonly #markStopped: () => void;
  readonly #controller = new AbortController();
  readonly #clock: EntryClock;
  readonly #hooks: EntryHooks;

  constructor(name: string, clock: EntryClock, hooks: EntryHooks) {
    this.name = name;
    this.#clock = clock;
    this.#hooks = hooks;
    this.lastUsed = clock.now();
    const stopped = Promise.withResolvers<void>();
    this.stopped = stopped.promise;
    this.#markStopped = stopped.resolve;
    this.ready.catch(() => {});
  }

  /** Aborted when the load is abandoned (every acquirer gave up, or the router closes). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Loaded, unused, and neither stopping nor dead: the router may evict it. */
  get evictable(): boolean {
    return this.session !== null && this.#leases === 0 && this.#waiters === 0 && !this.stopping &&
      !this.#dead;
  }

  /** Takes the load (started by the router). */
  start(loading: Promise<LoadedModel>): void {
    this.ready = loading.then((session) => {
      this.session = session;
      this.lastUsed = this.#clock.now();
      this.#checkIdle();
      return session;
    });
    this.ready.catch(() => this.#markStopped());
  }

  /**
   * Waits for the load and leases the model. When `signal` aborts, this acquirer stops waiting
   * (`INTERRUPTED`); the load itself is abandoned only once no acquirer is left waiting for it.
   */
  acquire(signal?: AbortSignal): Promise<Lease> {
    if (this.session !== null && signal?.aborted !== true) {
      return Promise.resolve(this.#lease(this.session)); // loaded: no wait (the hot path of every request)
    }
    return this.#acquireWhenReady(signal);
  }

  async #acquireWhenReady(signal?: AbortSignal): Promise<Lease> {
    this.#waiters++;
    this.#cancelExpiry();
    let session: LoadedModel;
    try {
      session = await abortable(this.ready, signal, () => loadInterrupted(this.name));
    } catch (e) {
      this.#waiters--;
      if (this.#waiters === 0 && this.#leases === 0 && this.session === null) this.abortLoad();
      this.#checkIdle();
      throw e;
    }
    this.#waiters--;
    return this.#lease(session);
  }

  /** A use without a lease (tokenize from the vocabulary): LRU order, and a fresh keep-alive while idle. */
  touch(): void {
    this.lastUsed = this.#clock.now();
    if (this.expiresAt !== null) this.#hooks.onIdle(this);
  }

  /** Resolves once no lease is held and no acquirer waits. */
  idle(): Promise<void> {
    if (this.#leases === 0 && this.#waiters === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Unloads after `ms` unless used again first. */
  expireAfter(ms: number, expire: () => void): void {
    this.expiresAt = this.#clock.now() + ms;
    this.#expire = expire;
    // One timer for many uses: a later deadline is checked when it fires (no timer per request).
    if (this.#timer === undefined || this.expiresAt < this.#timerAt) this.#arm(ms);
  }

  #arm(ms: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timerAt = this.#clock.now() + ms;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      if (this.expiresAt === null) return; // used again since (or stopped)
      const left = this.expiresAt - this.#clock.now();
      if (left > 0) this.#arm(left);
      else this.#expire();
    }, ms);
  }

  /** Abandons a load still running. */
  abortLoad(): void {
    if (this.session === null) {
      this.#controller.abort(new DOMException("the load was abandoned", "AbortError"));
    }
  }

  /** Stops the model (a load still running is abandoned). Idempotent. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.#cancelExpiry();
      this.#clearTimer();
      this.abortLoad();
      const session = await this.ready.catch(() => null);
      await session?.close().catch(() => {});
      this.#markStopped();
    }
    await this.stopped;
  }

  /** The model died on its own. */
  crashed(): void {
    this.#dead = true;
    this.#cancelExpiry();
    this.#clearTimer();
    this.#markStopped();
  }

  #lease(session: LoadedModel): Lease {
    this.#leases++;
    this.#cancelExpiry();
    this.lastUsed = this.#clock.now();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#leases--;
      this.lastUsed = this.#clock.now();
      this.#hooks.onRelease();
      this.#checkIdle();
    };
    return {
      model: this.name,
      session: leasedSession(session, release),
      release,
      keepAliveMs: this.keepAliveMs,
    };
  }

  #checkIdle(): void {
    if (this.#leases !== 0 || this.#waiters !== 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
    if (this.session !== null && !this.stopping && !this.#dead) this.#hooks.onIdle(this);
  }

  /** No keep-alive runs (the timer, if armed, finds nothing to do; stop() clears it). */
  #cancelExpiry(): void {
    this.expiresAt = null;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }
}

/** The session as a lease hands it out: `close()` releases the lease instead of unloading the model. */
function leasedSession(session: Session, release: () => void): Session {
  return {
    get capabilities() {
      return session.capabilities;
    },
    get info() {
      return session.info;
    },
    generate: (prompt, options) => session.generate(prompt, options),
    chat: (messages, options) => session.chat(messages, options),
    renderChat: (messages) => session.renderChat(messages),
    embed: (texts, options) => session.embed(texts, options),
    tokenize: (text) => session.tokenize(text),
    detokenize: (tokens) => session.detokenize(tokens),
    close: () => Promise.resolve(release()),
  };
}

/**
 * Why a load stopped: the model it resolved to is another entry's, whose acquirers join (never seen
 * outside the router).
 */
export class Moved extends Error {
  constructor(name: string) {
    super(`"${name}" is loaded by another entry`);
  }
}

/**
 * True when `contextSize` is asked and `entry` is loaded (as asked, or by the backend's choice) with another.
 */
export function wantsOtherContext(entry: RouterEntry, contextSize: number | undefined): boolean {
  if (contextSize === undefined) return false;
  if (entry.contextSize !== null) return entry.contextSize !== contextSize;
  return entry.session?.info.contextSize !== contextSize;
}

/**
 * The error of an acquirer that stopped waiting for `model`'s load (or of a load abandoned).
 *
 * @example
 * ```ts
 * loadInterrupted("stories260K").code; // "INTERRUPTED"
 * ```
 */
export function loadInterrupted(model: string): LodeError {
  return new LodeError("INTERRUPTED", `loading model "${model}" was cancelled`, { details: { model } });
}

/**
 * The error of a load asked of a router that is closing.
 *
 * @example
 * ```ts
 * draining().code; // "DRAINING"
 * ```
 */
export function draining(): LodeError {
  return new LodeError("DRAINING", "the daemon is shutting down and loads no more models");
}

/**
 * `promise`, or a rejection with `error()` as soon as `signal` aborts.
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  error: () => Error,
): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(error());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(error());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * What `models` and `load` tell of a loaded entry at `now`: its context size, capabilities and time left
 * before its keep-alive unloads it (null: never); nothing while it loads.
 */
export function loadedFields(entry: RouterEntry, now: number): Partial<ModelEntry> {
  const session = entry.session;
  if (session === null) return {};
  const expiresAt = entry.expiresAt;
  return {
    context_size: session.info.contextSize,
    capabilities: session.capabilities,
    expires_in_ms: expiresAt === null ? null : Math.max(0, Math.round(expiresAt - now)),
  };
}
