/**
 * Which model state answers to which name in the router (model_router.ts).
 * A state is *live* under its store name — under the request string while
 * that resolves, then renamed once the name is known ({@link ModelTable.named});
 * a request for a reference finds it through the name the reference resolved
 * to (router_names.ts). States that left the live table but still hold a
 * runner are kept apart: *retiring* ones (replaced by a reload with another
 * context, or gone from the store) are stopped once their leases are
 * released, *stopping* ones until their runner exited; both still take a
 * slot and memory (router_room.ts) until then.
 *
 * @example
 * ```ts
 * import { ModelTable } from "./model_table.ts";
 * import { ModelState, REAL_CLOCK } from "./model_state.ts";
 * const table = new ModelTable((model) => model);
 * const state = new ModelState("stories260K", REAL_CLOCK, { onIdle: () => {}, onRelease: () => {} });
 * table.add(state);
 * table.live("stories260K") === state; // true
 * ```
 * @module
 */
import type { ModelState } from "./model_state.ts";
import { Moved } from "./router_names.ts";

/** The router's states by name (see the module doc). */
export class ModelTable {
  readonly #keyOf: (model: string) => string;
  /** Live states by store name (by the request string while it resolves). */
  readonly #live = new Map<string, ModelState>();
  /** States stopped once idle (a reload replaced them, or the store no longer holds what they loaded). */
  readonly retiring = new Set<ModelState>();
  /** States whose runner is being stopped: they still take a slot and memory until it exited. */
  readonly stopping = new Set<ModelState>();

  /** `keyOf`: the store name a request string resolved to before, else the string itself. */
  constructor(keyOf: (model: string) => string) {
    this.#keyOf = keyOf;
  }

  /** The live state `model` names (by its store name, or the request string while resolving). */
  live(model: string): ModelState | undefined {
    return this.#live.get(this.#keyOf(model)) ?? this.#live.get(model);
  }

  /** True when a live state has `name`. */
  has(name: string): boolean {
    return this.#live.has(name);
  }

  /** True while `state` is the live one of its name. */
  isLive(state: ModelState): boolean {
    return this.#live.get(state.name) === state;
  }

  /** Makes `state` the live one of its name. */
  add(state: ModelState): void {
    this.#live.set(state.name, state);
  }

  /** Takes `state` out of the live table (when it is there). */
  drop(state: ModelState): void {
    if (this.isLive(state)) this.#live.delete(state.name);
  }

  /**
   * `state` is the model stored as `name`: keyed by it, or — another state has it — throws {@link Moved}
   * (its acquirers move there).
   */
  named(state: ModelState, name: string): void {
    if (state.name === name) return;
    const other = this.#live.get(name);
    if (other !== undefined && other !== state) throw new Moved(name);
    this.drop(state);
    state.name = name;
    this.#live.set(name, state);
  }

  /** Every live state. */
  states(): ModelState[] {
    return [...this.#live.values()];
  }

  /** The live and retiring states: every one that may hold a runner or be loading one. */
  held(): ModelState[] {
    return [...this.#live.values(), ...this.retiring];
  }

  /** The loaded state of each model, by store name (a retiring one while its replacement loads). */
  loaded(): Map<string, ModelState> {
    const loaded = new Map<string, ModelState>();
    for (const s of this.held()) {
      if (s.session !== null && !loaded.has(s.name)) loaded.set(s.name, s);
    }
    return loaded;
  }
}
