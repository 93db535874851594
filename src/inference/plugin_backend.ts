/**
 * A backend plugin (api.ts's {@link BackendHooks}: in process, or out of process through remote_plugin.ts)
 * as the in-process {@link Backend} of backend.ts, so `lode run`, the daemon and the conformance suite use
 * it as they use llama.cpp:
 *
 * - its sessions are plugin_session.ts's: a generation streams the plugin's progress frames as its chunks,
 *   as they come; calls go to the plugin as they are made, in the order it answers them; aborting one
 *   (its signal, leaving the loop, closing the session) cancels the plugin's call, which the plugin still
 *   answers; the generation then ends with `stopReason: "abort"`;
 * - the load's options go to the plugin whole (context size, threads, GPU, memory check, CPUs, sequences);
 *   its progress frames that are status events reach `onStatus`, and lode adds the `capabilities` event
 *   from the load's answer;
 * - every failure names the plugin and the hook (`plugin openai_backend (session.generate): …`), with the
 *   catalogue code the plugin gave (`USAGE`, `CONTEXT_LENGTH_EXCEEDED`, …) or `PLUGIN_*`;
 * - what a session cannot do exactly (its {@link SessionFeatures}) is refused with `INFERENCE_FAILED`.
 *
 * The file checks lode does itself, whatever the plugin: a missing file is `FILE_NOT_FOUND` at load and
 * `ok: false` at probe, so a plugin needs no read access to say so.
 *
 * @example
 * ```ts
 * import { openPluginBackend } from "./plugin_backend.ts";
 * async function complete(dir: string, model: string): Promise<string> {
 *   const backend = await openPluginBackend(dir);
 *   try {
 *     const session = await backend.load(model);
 *     return (await session.generate("Once upon a time", { maxTokens: 20 }).result).text;
 *   } finally {
 *     await backend.close();
 *   }
 * }
 * ```
 * @module
 */
import { isLodeError, LodeError } from "../errors.ts";
import { StatusEvent } from "../events/status_event.ts";
import type { BackendHooks, CallContext, FileFacts, LoadDescriptor, PluginSession } from "../plugin/api.ts";
import { readManifest } from "../plugin/manifest.ts";
import { pluginError } from "../plugin/plugin_error.ts";
import { SupervisedPlugin, type SupervisorOptions } from "../plugin/plugin_supervisor.ts";
import { type RemoteOptions, remotePlugin } from "../plugin/remote_plugin.ts";
import type { Backend, LoadOptions, ProbeResult, Session } from "./backend.ts";
import { pluginSession } from "./plugin_session.ts";

/** Options of {@link pluginBackend}. */
export interface PluginBackendOptions {
  /** The plugin's name in errors (default: the backend's name). */
  plugin?: string;
  /** Called by {@link Backend.close} after every session is closed: stops the plugin's process. */
  shutdown?: () => Promise<void>;
}

const noop = () => {};

/** Whether there is a file (or anything) at `path`. */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The facts to send: a file name only when lode knows one. */
function facts(file: FileFacts): FileFacts {
  return file.fileName === undefined ? {} : { fileName: file.fileName };
}

/** The in-process {@link Backend} of a backend plugin's hooks. */
export function pluginBackend(hooks: BackendHooks, options: PluginBackendOptions = {}): Backend {
  const plugin = options.plugin ?? hooks.name;
  const sessions = new Set<Session>();
  let closing: Promise<void> | null = null;

  return {
    name: hooks.name,
    async probe(path: string, file: FileFacts = {}): Promise<ProbeResult> {
      if (!(await exists(path))) return { ok: false, reason: `there is no file at ${path}` };
      try {
        return await hooks.probe(path, { signal: new AbortController().signal, progress: noop }, facts(file));
      } catch (e) {
        return { ok: false, reason: (e as Error).message };
      }
    },
    async load(path: string, load: LoadOptions = {}): Promise<Session> {
      if (closing !== null) {
        throw pluginError("INFERENCE_FAILED", plugin, "backend.load", "the backend is closed");
      }
      if (load.signal?.aborted) throw new LodeError("INTERRUPTED", `loading ${path} was cancelled`);
      if (!(await exists(path))) {
        throw new LodeError("FILE_NOT_FOUND", `there is no file at ${path}`, { details: { path } });
      }
      const report = (event: unknown) => {
        const parsed = StatusEvent.safeParse(event);
        // lode reports the capabilities itself, from the load's answer (as the session has them).
        if (!parsed.success || (parsed.data.status === "capabilities" && event !== answered)) return;
        try {
          load.onStatus?.(parsed.data);
        } catch {
          // A status listener's failure is ignored (LoadOptions.onStatus).
        }
      };
      let answered: unknown = null;
      const context: CallContext = { signal: load.signal ?? new AbortController().signal, progress: report };
      const { onStatus: _onStatus, signal: _signal, fileName, ...options } = load;
      const wire: LoadDescriptor = options;
      let loaded: PluginSession;
      try {
        loaded = await hooks.load(path, wire, context, facts({ fileName }));
      } catch (e) {
        if (isLodeError(e, "CANCELLED")) {
          throw new LodeError("INTERRUPTED", `loading ${path} was cancelled`, { cause: e });
        }
        throw e;
      }
      const session = pluginSession(loaded, plugin, () => sessions.delete(session));
      answered = { status: "capabilities", ...session.capabilities };
      report(answered);
      sessions.add(session);
      return session;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        await Promise.allSettled([...sessions].map((s) => s.close()));
        await options.shutdown?.();
      })();
      return closing;
    },
  };
}

/** Options of {@link openPluginBackend}. */
export interface OpenPluginBackendOptions extends SupervisorOptions, RemoteOptions {}

/**
 * The {@link Backend} of the out-of-process plugin in `dir` (its `lode-plugin.json` must list the
 * `backend` hook group), started on first use, sandboxed as its manifest declares; `close` stops it.
 */
export async function openPluginBackend(
  dir: string,
  options: OpenPluginBackendOptions = {},
): Promise<Backend> {
  const manifest = await readManifest(dir);
  if (!manifest.hooks.includes("backend")) {
    throw new LodeError("PLUGIN_MANIFEST_INVALID", `plugin ${manifest.name} implements no backend hooks`, {
      details: { plugin: manifest.name, field: "hooks", file: manifest.file },
    });
  }
  const supervised = new SupervisedPlugin(manifest, options);
  const hooks = remotePlugin(supervised, options).backend!;
  return pluginBackend(hooks, { plugin: manifest.name, shutdown: () => supervised.shutdown() });
}
