/**
 * The router contract: what the daemon's request handling (the inference
 * socket, the OpenAI-compatible HTTP front, `lode run` through the daemon)
 * programs against to get a loaded model. A {@link Router} maps a model name
 * to a loaded {@link Session} — the very backend contract of
 * src/inference/backend.ts, so a request handler cannot tell a model running
 * in a runner process from one in-process — loading it on first use (pulling
 * it first when a lockfile or reference says how), keeping it for a
 * keep-alive TTL, and evicting the least recently used one beyond
 * `maxLoaded` or a memory budget.
 *
 * A {@link Lease} pins a model while a request uses it (a leased model is
 * never evicted or unloaded under the request); `release` gives it back and
 * restarts its keep-alive clock. When a model's runner dies, every lease's
 * running generations fail with `LodeError("RUNNER_CRASHED")`, the model is
 * evicted, and the next `acquire` loads it again.
 *
 * This file holds types only.
 *
 * @example
 * ```ts
 * import type { Router } from "./router.ts";
 * async function complete(router: Router, model: string, prompt: string, signal: AbortSignal): Promise<string> {
 *   const lease = await router.acquire(model, { signal });
 *   try {
 *     return (await lease.session.generate(prompt, { maxTokens: 64, signal }).result).text;
 *   } finally {
 *     lease.release();
 *   }
 * }
 * ```
 * @module
 */
import type { Session, Vocabulary } from "../../inference/backend.ts";
import type { StatusEvent } from "../../events/status_event.ts";
import type { ModelEntry } from "../wire/protocol.ts";

/**
 * A loaded model pinned for one request.
 *
 * @example
 * ```ts
 * import type { Lease } from "./router.ts";
 * const tokens = async (lease: Lease, text: string) => (await lease.session.tokenize(text)).length;
 * ```
 */
export interface Lease {
  /** The model's name in the store (a reference resolved to the name it is stored under). */
  readonly model: string;
  readonly session: Session;
  /** How long the model stays loaded once idle (`Infinity`: until evicted or unloaded), when the router tells. */
  readonly keepAliveMs?: number;
  /** Gives the model back (idempotent); its keep-alive starts when the last lease is released. */
  release(): void;
}

/**
 * A status event of one model, for the admin stream (`loading_model` phases with `download` progress of a
 * pull the daemon performs, `capabilities`, `ready`, `load_failed` with the error's code, `restarting` after
 * a runner crash, `unloaded` with why).
 *
 * @example
 * ```ts
 * import type { ModelStatus } from "./router.ts";
 * const line = (s: ModelStatus) => `${s.model}: ${s.event.status}`;
 * ```
 */
export interface ModelStatus {
  model: string;
  event: StatusEvent;
  /**
   * Why a `restarting` model is loaded again: its runner crashed, it is reloaded with another context, or
   * such a reload failed and it is loaded back as it was.
   */
  reason?: "crashed" | "context_size" | "reload_failed";
}

/**
 * How one model is loaded (the `load` op's `context_size` and `keep_alive_ms`); what is not named is what the
 * model is loaded with already, else the daemon's default.
 *
 * @example
 * ```ts
 * import type { ModelSettings } from "./router.ts";
 * const small: ModelSettings = { contextSize: 512, keepAliveMs: 0 }; // unloaded as soon as idle
 * ```
 */
export interface ModelSettings {
  /** Load with this context; a model loaded with another one is reloaded once its leases are released. */
  contextSize?: number;
  /** Idle time before the model is unloaded (0: as soon as idle; `Infinity`: never). */
  keepAliveMs?: number;
}

/**
 * Model name → loaded session.
 *
 * @example
 * ```ts
 * import type { Router } from "./router.ts";
 * const names = async (r: Router) => (await r.models()).filter((m) => m.loaded).map((m) => m.name);
 * ```
 */
export interface Router {
  /**
   * A lease on `model`, loading it first when it is not loaded (concurrent acquires of one model share
   * one load). Rejects with `MODEL_NOT_FOUND` for a name the store, lockfile and references cannot
   * provide, `INSUFFICIENT_MEMORY` when it cannot fit even after evicting idle models,
   * `MODEL_LOAD_FAILED`, `RUNNER_CRASHED`, or `INTERRUPTED` when `signal` aborts while loading.
   * A reference and the store name it is stored under are one model (one runner). `settings` apply to the
   * model from then on (see {@link ModelSettings}).
   */
  acquire(model: string, options?: { signal?: AbortSignal } & ModelSettings): Promise<Lease>;
  /**
   * Optional: the vocabulary of `model` when it is loaded and its vocabulary is open in this process
   * (see vocabulary_session.ts), else undefined. Tokenizing with it needs no lease: it counts as a use
   * of the model (its keep-alive starts again) but never waits, loads or touches a runner.
   */
  vocabulary?(model: string): Vocabulary | undefined;
  /** Loads `model` without using it (the `load` op, `--model NAME` preloads); resolves when it is ready. */
  load(model: string, options?: { signal?: AbortSignal } & ModelSettings): Promise<ModelEntry>;
  /**
   * The store name `model` is known to name (a reference resolved before), else `model`: what the admission
   * queue counts per model, so that a reference and its name share `--parallel`. Optional.
   */
  nameOf?(model: string): string;
  /** Unloads `model` once its leases are released; false when it was not loaded. */
  unload(model: string): Promise<boolean>;
  /** Every model in the store, and whether (and until when) it is loaded. */
  models(): Promise<ModelEntry[]>;
  /** Subscribes to per-model status events; returns the unsubscribe function. */
  onStatus(listener: (status: ModelStatus) => void): () => void;
  /** Unloads everything (waiting for leases up to `graceMs`, then aborting them) and stops the runners. */
  close(options?: { graceMs?: number }): Promise<void>;
}
