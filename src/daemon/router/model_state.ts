/**
 * One model in the router (model_router.ts) through its life: its shared
 * load, the acquirers waiting for it, its leases, its keep-alive timer, its
 * stop or its crash, and what it was loaded from (path, context, the store's
 * version of it). The router's lifecycle (router_lifecycle.ts) decides *when*
 * to load, evict and stop; a state keeps the counts those decisions read, and
 * tells the lifecycle when it becomes idle.
 *
 * @example
 * ```ts
 * import { type LoadedModel, ModelState, REAL_CLOCK } from "./model_state.ts";
 * declare const loading: Promise<LoadedModel>;
 * const state = new ModelState("stories260K", REAL_CLOCK, { onIdle: () => {}, onRelease: () => {} });
 * state.start(loading);
 * const lease = await state.acquire();
 * lease.release();
 * ```
 * @module
 */
import type { Session } from "../../inference/backend.ts";
import { abortable } from "./abortable.ts";
import type { Lease } from "./router.ts";
import { loadInterrupted } from "./router_errors.ts";
import type { StoredVersion } from "./stored_versions.ts";

/**
 * A model as the router holds it: a session whose end it can watch (a runner session is one).
 *
 * @example
 * ```ts
 * import type { LoadedModel } from "./model_state.ts";
 * const onCrash = (m: LoadedModel, f: () => void) => m.exited.then((x) => x.crashed && f());
 * ```
 */
export interface LoadedModel extends Session {
  /** The runner's process id, when the model runs in one. */
  readonly pid?: number;
  /** Settles when the model is gone: `crashed` unless `close()` ended it. Never rejects. */
  readonly exited: Promise<{ crashed: boolean }>;
}

/** The clock a model's state reads for LRU order and keep-alive (injected in tests). */
export interface StateClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** performance.now() and the global timers. */
export const REAL_CLOCK: StateClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

/** What a model's state tells the lifecycle. */
export interface StateHooks {
  /** Loaded, and no lease or acquirer left. */
  onIdle(state: ModelState): void;
  /** A lease was released (loads waiting for room may proceed). */
  onRelease(): void;
}

/** The state of one model in the router. */
export class ModelState {
  /** The model's name: as requested while it resolves, then the name it is stored under (`rename`). */
  name: string;
  /** The context it is loaded with, as asked (null: the backend's choice). */
  contextSize: number | null = null;
  /** Idle time before it is unloaded (0: at once; `Infinity`: never). */
  keepAliveMs = Infinity;
  /** The file loaded (known once resolved). */
  path: string | null = null;
  /** What the store held under {@link name} when it was loaded (null: not compared with the store). */
  version: StoredVersion | null = null;
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
  readonly #clock: StateClock;
  readonly #hooks: StateHooks;

  constructor(name: string, clock: StateClock, hooks: StateHooks) {
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

  /** Loaded (or loading) with a context other than `contextSize`, when that is asked. */
  wantsOtherContext(contextSize: number | undefined): boolean {
    if (contextSize === undefined) return false;
    if (this.contextSize !== null) return this.contextSize !== contextSize;
    return this.session?.info.contextSize !== contextSize;
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
