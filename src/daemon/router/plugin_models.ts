/**
 * The daemon's models run by backend plugins: the router's {@link StartModel} and memory estimate that
 * send a GGUF file to the runner (llama.cpp in its own process) and any other file to the first backend
 * plugin whose probe says it can run it — as `lode run` chooses (src/inference/backend_choice.ts).
 *
 * A backend plugin's process is the command's (its plugin driver's): one process runs every session the
 * daemon opens on that plugin, supervised (started again with backoff after a fault, disabled after
 * repeated ones). When that process dies, each model loaded in it is reported ended `crashed`: the
 * request it was serving fails with the plugin's typed `PLUGIN_*` error, the router forgets the model,
 * and the next request loads it again, which restarts the plugin. The daemon keeps serving meanwhile.
 *
 * @example
 * ```ts
 * import { pluginModels } from "./plugin_models.ts";
 * const { start, estimate } = pluginModels({
 *   backends: () => Promise.resolve([]),
 *   onLog: (model, line) => console.error(`[${model}] ${line}`),
 * });
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { Session } from "../../inference/backend.ts";
import { probeGguf } from "../../inference/gguf_probe.ts";
import { pluginBackend } from "../../inference/plugin_backend.ts";
import type { BackendHooks } from "../../plugin/api.ts";
import type { RunnerLoadOptions } from "../runner/runner_protocol.ts";
import { startRunnerSession } from "../runner/runner_session.ts";
import type { LoadedModel } from "./model_state.ts";
import type { StartModel } from "./router_options.ts";
import { estimateRunnerBytes } from "./router_memory.ts";

/** A backend plugin as the daemon runs it. */
export interface BackendPlugin {
  /** The plugin's name (in errors). */
  readonly name: string;
  readonly hooks: BackendHooks;
  /**
   * Settles when the process running the plugin's sessions now ends (undefined: none runs, or the
   * plugin runs in lode's own process).
   */
  exited(): Promise<unknown> | undefined;
}

/** Options of {@link pluginModels}. */
export interface PluginModelsOptions {
  /** Starts a GGUF file (and any file when no backend plugin claims it); default: a runner process. */
  runner?: StartModel;
  /** A runner's stderr lines, with its model's name (for the default runner). */
  onLog?: (model: string, line: string) => void;
  /** The backend plugins in the order they are asked; called for the first file that is not GGUF. */
  backends(): Promise<readonly BackendPlugin[]>;
  /**
   * What a stored model brings to its start, read once: the own name of the file it is served from when its
   * path does not end in it (a single-file model in the store is its blob, `…/data`; given to the plugins'
   * probe and load), and its load options besides the daemon's settings (its stored chat template file,
   * `chatTemplate` and `chatTemplateName`, given to the runner and to the plugins). Default: nothing.
   */
  storedModel?: (model: string, path: string) => Promise<StoredModel>;
  /** Bytes a GGUF model needs loaded (default `estimateRunnerBytes`). */
  estimate?: (path: string, load: RunnerLoadOptions) => Promise<number>;
}

/** What a stored model brings to its start (see {@link PluginModelsOptions.storedModel}). */
export interface StoredModel {
  fileName?: string;
  load?: Pick<RunnerLoadOptions, "chatTemplate" | "chatTemplateName">;
}

/** The router's `start` and `estimate` with backend plugins (see the module doc). */
export function pluginModels(options: PluginModelsOptions): {
  start: StartModel;
  estimate: (path: string, load: RunnerLoadOptions) => Promise<number>;
  /** The backend plugin a model was last started on, or undefined when it runs in a runner. */
  pluginOf: (model: string) => string | undefined;
} {
  const plugins = new Map<string, string>();
  const estimate = options.estimate ?? estimateRunnerBytes;
  const runner: StartModel = options.runner ??
    ((path, o) => startRunnerSession(path, { ...o, onLog: (line) => options.onLog?.(o.name, line) }));
  return {
    async estimate(path, load) {
      // A plugin's model lives in the plugin's process or behind it, outside what the router budgets.
      return (await probeGguf(path)).ok || !(await isFile(path)) ? await estimate(path, load) : 0;
    },
    pluginOf: (model) => plugins.get(model),
    async start(path, asked) {
      // The model's own load options (its stored chat template) join the daemon's.
      const stored = await options.storedModel?.(asked.name, path) ?? {};
      const o = stored.load === undefined ? asked : { ...asked, load: { ...asked.load, ...stored.load } };
      const gguf = await probeGguf(path);
      plugins.delete(o.name);
      if (gguf.ok || !(await isFile(path))) return await runner(path, o);
      const backends = await options.backends();
      if (backends.length === 0) return await runner(path, o); // its load says why it cannot
      const reasons: Record<string, string> = { gguf: gguf.reason };
      const file = stored.fileName === undefined ? {} : { fileName: stored.fileName };
      for (const plugin of backends) {
        // The plugin's process is shared: closing a model closes its session, never the process.
        const backend = pluginBackend(plugin.hooks, { plugin: plugin.name });
        const probe = await backend.probe(path, file);
        if (!probe.ok) {
          reasons[plugin.name] = probe.reason;
          continue;
        }
        const load = { ...o.load, ...file, onStatus: o.onStatus, signal: o.signal };
        const session = await backend.load(path, load);
        plugins.set(o.name, plugin.name);
        return loadedModel(session, plugin.exited());
      }
      throw new LodeError(
        "MODEL_LOAD_FAILED",
        `no backend can run ${path}: ${Object.entries(reasons).map(([n, why]) => `${n}: ${why}`).join("; ")}`,
        {
          details: { path, reasons },
          hint: "Install the backend plugin that runs it (lode plugin add DIR).",
        },
      );
    },
  };
}

/** `session` as a {@link LoadedModel}: ended `crashed` when `processExited` settles before its `close`. */
export function loadedModel(session: Session, processExited: Promise<unknown> | undefined): LoadedModel {
  let end!: (exit: { crashed: boolean }) => void;
  const exited = new Promise<{ crashed: boolean }>((resolve) => end = resolve);
  let closed = false;
  processExited?.then(() => end({ crashed: !closed }), () => end({ crashed: !closed }));
  return {
    ...session,
    exited,
    async close() {
      closed = true;
      try {
        await session.close();
      } finally {
        end({ crashed: false });
      }
    },
  };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
