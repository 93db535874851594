/**
 * What the router (model_router.ts) reports of its models: each load's
 * phases to the listeners, and why a model is loaded again — its runner
 * crashed, or it is reloaded with another context — so that the phases of
 * that load are reported as `restarting` with the reason, until it is ready.
 * A load that was reported and fails ends with `load_failed` (its error's
 * code and message), so that no model stays "loading"; a model whose runner
 * stopped for good is reported `unloaded`, with why.
 *
 * @example
 * ```ts
 * import { RouterStatus } from "./router_status.ts";
 * const status = new RouterStatus();
 * status.listen((s) => console.log(s.model, s.event.status, s.reason));
 * status.restarting("m", "crashed");
 * status.phase("m", { status: "loading_model", phase: "checking_local", path: "/m.gguf" }); // restarting, crashed
 * status.ready("m"); // its next load is a plain one
 * ```
 * @module
 */
import { toLodeError } from "../../errors.ts";
import type { StatusEvent, UnloadReason } from "../../events/status_event.ts";
import type { ModelStatus } from "./router.ts";

/** Why a model is loaded again. */
export type RestartReason = NonNullable<ModelStatus["reason"]>;

/** The router's status listeners and restart reasons (see the module doc). */
export class RouterStatus {
  readonly #listeners = new Set<(status: ModelStatus) => void>();
  /** Models whose next load is reported as `restarting`, and why. */
  readonly #restarts = new Map<string, RestartReason>();
  /** Models with a load whose phases were reported and that has not ended (`ready` or `load_failed`). */
  readonly #loading = new Set<string>();

  /** Adds a listener; returns its removal. */
  listen(listener: (status: ModelStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The next load of `model` is a restart, for `reason`. */
  restarting(model: string, reason: RestartReason): void {
    this.#restarts.set(model, reason);
  }

  /** A reload with another context failed: the next load of `model` is a plain one. */
  reloadFailed(model: string): void {
    if (this.#restarts.get(model) === "context_size") this.#restarts.delete(model);
  }

  /** Reports a phase of `model`'s load: `loading_model` is reported as `restarting` (with why) when it is one. */
  phase(model: string, event: StatusEvent): void {
    this.#loading.add(model);
    const reason = this.#restarts.get(model);
    if (reason === undefined) return this.emit({ model, event });
    const e = event.status === "loading_model" ? { ...event, status: "restarting" as const } : event;
    this.emit({ model, event: e, ...(e.status === "restarting" ? { reason } : {}) });
  }

  /**
   * `model`'s runner (of the file at `path`) crashed: reported as `restarting` (unless `quiet`: the daemon
   * is closing), and its next load is a restart for that reason.
   */
  crashed(model: string, path: string, options: { quiet?: boolean } = {}): void {
    this.restarting(model, "crashed");
    if (options.quiet) return;
    this.emit({ model, event: { status: "restarting", phase: "checking_local", path }, reason: "crashed" });
  }

  /** `model` is loaded: reports `ready`; its next load is no restart. */
  ready(model: string): void {
    this.#loading.delete(model);
    this.#restarts.delete(model);
    this.emit({ model, event: { status: "ready" } });
  }

  /**
   * `model`'s load failed with `error`: reported as `load_failed` (its code and message) when a phase of
   * it was (a name that resolves to nothing is the request's error alone), unless `quiet` (closing).
   */
  loadFailed(model: string, error: unknown, options: { quiet?: boolean } = {}): void {
    if (!this.#loading.delete(model) || options.quiet) return;
    const { code, message } = toLodeError(error);
    this.emit({ model, event: { status: "load_failed", code, message } });
  }

  /** `model`'s runner has stopped, for `reason`. */
  unloaded(model: string, reason: UnloadReason): void {
    this.emit({ model, event: { status: "unloaded", reason } });
  }

  /** Tells every listener (a listener's failure is its own). */
  emit(status: ModelStatus): void {
    for (const listener of this.#listeners) {
      try {
        listener(status);
      } catch { /* a listener's failure is its own */ }
    }
  }
}
