/**
 * The options of the daemon's router (model_router.ts): where names
 * resolve, how models are started and loaded, the limits on what stays
 * loaded, and the effects (clock, free RAM, estimates) tests inject.
 *
 * @example
 * ```ts
 * import type { ModelRouterOptions } from "./router_options.ts";
 * import { ModelStore } from "../../store/model_store.ts";
 * const store = await ModelStore.open("/srv/models");
 * const options: ModelRouterOptions = { store, maxLoaded: 2, keepAliveMs: 60_000, load: { threads: 1 } };
 * ```
 * @module
 */
import type { StatusEvent } from "../../events/status_event.ts";
import type { ModelStore } from "../../store/model_store.ts";
import type { LoadedModel, StateClock } from "./model_state.ts";
import type { ProvideModel, StoredName } from "./router_names.ts";
import type { StoredVersions } from "./stored_versions.ts";
import type { Vocabulary } from "../../inference/backend.ts";
import type { RunnerLoadOptions } from "../runner/runner_protocol.ts";

/**
 * Starts a loaded model (default: a runner process with `startRunnerSession`).
 *
 * @example
 * ```ts
 * import type { StartModel } from "./router_options.ts";
 * import { startRunnerSession } from "../runner/runner_session.ts";
 * const start: StartModel = (path, o) => startRunnerSession(path, o);
 * ```
 */
export type StartModel = (
  path: string,
  options: {
    load: RunnerLoadOptions;
    onStatus: (event: StatusEvent) => void;
    signal: AbortSignal;
    /** The model's name in the router (for its log lines). */
    name: string;
  },
) => Promise<LoadedModel>;

/** A clock and timers (injected in tests): the one the models' states read. */
export type RouterClock = StateClock;

/** Options of the `ModelRouter`. */
export interface ModelRouterOptions {
  /** Where names resolve to files. */
  store: Pick<ModelStore, "modelPathOf" | "list">;
  /** Models the store lacks (see {@link ProvideModel}); default: none, `MODEL_NOT_FOUND`. */
  provide?: ProvideModel;
  /** The stored model a reference names, told without the network (see {@link StoredName}). */
  storedName?: StoredName;
  /**
   * What the store holds under a name now (stored_versions.ts): a loaded model the store no longer holds,
   * or holds another file under its name, is unloaded. Default: not compared (the store never changes).
   */
  versions?: StoredVersions;
  /**
   * How runners load models (context size, threads, GPU, memory check, sequences). `contextSize` is each
   * request's; `sequences` (the daemon's `--parallel`, default 1) requests of a model run at once on
   * sequences of one context, which holds `sequences × contextSize` tokens (see `runnerLoad`).
   */
  load?: RunnerLoadOptions;
  /** Idle time before a model is unloaded (default 5 minutes; `Infinity`: never). */
  keepAliveMs?: number;
  /** Most models loaded at once (default 3). */
  maxLoaded?: number;
  /** RAM all loaded models may take, in bytes (default: what is free, see the module doc). */
  memoryBudget?: number;
  /** Bytes a model needs loaded (default `estimateRunnerBytes` of router_memory.ts). */
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
  /** Lines for the daemon's operator (a reload to change a model's context). */
  notice?: (line: string) => void;
  clock?: RouterClock;
}
