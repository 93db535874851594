/**
 * Room for one more model in the router: at most `maxLoaded` models, and
 * their estimated RAM (router_memory.ts) within `memoryBudget` — by default
 * the free RAM, counting what the loaded models would give back. Models
 * being stopped, and retiring ones still serving their last requests, hold
 * their room until their runner exited.
 *
 * A load that does not fit evicts idle models, least recently used first.
 * When only leased models stand in the way it **waits** for a release or a
 * stop ({@link RouterRoom.changed}); loads make room one at a time, in the
 * order they asked (FIFO), and the load's signal ends the wait with
 * `INTERRUPTED`: requests are short, and failing them would only make
 * clients retry. A model that could not fit even alone fails at once with
 * `INSUFFICIENT_MEMORY`.
 *
 * @example
 * ```ts
 * import { RouterRoom } from "./router_room.ts";
 * import { ModelTable } from "./model_table.ts";
 * import { ModelState, REAL_CLOCK } from "./model_state.ts";
 * const table = new ModelTable((m) => m);
 * const room = new RouterRoom({ table, maxLoaded: 2, evict: (s) => s.stop(), closed: () => false });
 * const state = new ModelState("m", REAL_CLOCK, { onIdle: () => {}, onRelease: () => room.changed() });
 * state.bytes = 200 * 1024 * 1024;
 * await room.admit(state, state.signal); // state.admitted is now true
 * ```
 * @module
 */
import { readMemAvailable } from "../../inference/mem_available.ts";
import { abortable } from "./abortable.ts";
import type { ModelState } from "./model_state.ts";
import type { ModelTable } from "./model_table.ts";
import { draining, loadInterrupted } from "./router_errors.ts";
import { insufficientMemory, memoryFit, type MemoryFitInput } from "./router_memory.ts";

/** Options of {@link RouterRoom}. */
export interface RoomOptions {
  table: ModelTable;
  /** Most models loaded at once. */
  maxLoaded: number;
  /** RAM all loaded models may take, in bytes (default: what is free). */
  memoryBudget?: number;
  /** Free RAM in bytes, undefined when unknown (default: `MemAvailable`). */
  availableRam?: () => Promise<number | undefined>;
  /** Stops an idle model to make room (resolves once its runner exited). */
  evict(state: ModelState): Promise<void>;
  /** True once the router is closing: waiting loads end with `DRAINING`. */
  closed(): boolean;
}

/** Admission of loads (see the module doc). */
export class RouterRoom {
  readonly #o: RoomOptions;
  #admission: Promise<unknown> = Promise.resolve();
  #changed = Promise.withResolvers<void>();

  constructor(options: RoomOptions) {
    if (!(options.maxLoaded >= 1)) throw new RangeError("maxLoaded must be at least 1");
    this.#o = options;
  }

  /**
   * Resolves once `state` (its `bytes` estimated) fits, after every earlier admission; marks it `admitted`.
   * Rejects with `INSUFFICIENT_MEMORY`, `INTERRUPTED` (`signal`) or `DRAINING`.
   */
  admit(state: ModelState, signal: AbortSignal): Promise<void> {
    const run = this.#admission.then(() => this.#makeRoom(state, signal));
    this.#admission = run.catch(() => {});
    return run;
  }

  /** Something was released or stopped: loads waiting for room look again. */
  changed(): void {
    const changed = this.#changed;
    this.#changed = Promise.withResolvers<void>();
    changed.resolve();
  }

  /** Waits until `state` fits (slots and memory), evicting idle models least recently used first. */
  async #makeRoom(state: ModelState, signal: AbortSignal): Promise<void> {
    const { table } = this.#o;
    while (true) {
      if (this.#o.closed()) throw draining();
      if (signal.aborted) throw loadInterrupted(state.name);
      const others = table.states().filter((s) => s !== state && s.admitted);
      const holders = [...others, ...table.stopping, ...table.retiring];
      const fit: MemoryFitInput = {
        need: state.bytes,
        loaded: holders.reduce((sum, s) => sum + s.bytes, 0),
        budget: this.#o.memoryBudget,
        available: this.#o.memoryBudget === undefined ? await this.#freeRam(others) : undefined,
      };
      const memory = memoryFit(fit);
      if (memory === "never") throw insufficientMemory(state.name, fit);
      if (memory === "fits" && holders.length < this.#o.maxLoaded) {
        state.admitted = true;
        return;
      }
      const victim = others.filter((s) => s.evictable).sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (victim !== undefined) {
        await this.#o.evict(victim);
        continue;
      }
      const changed = this.#changed.promise;
      await abortable(changed, signal, () => loadInterrupted(state.name));
    }
  }

  /** Free RAM, less what models admitted but still starting are about to take. */
  async #freeRam(others: ModelState[]): Promise<number | undefined> {
    const free = await (this.#o.availableRam ?? readMemAvailable)();
    const starting = others.filter((s) => s.session === null).reduce((sum, s) => sum + s.bytes, 0);
    return free === undefined ? undefined : Math.max(0, free - starting);
  }
}
