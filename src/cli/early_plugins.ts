/**
 * The registry plugins a command will call, started as soon as its arguments are parsed: a `lode pull`,
 * `lode lock add` or `lode run`/`chat`/`embed` (resolving in this process) of a reference whose scheme
 * may be a plugin's starts that plugin's process while lode loads the rest of itself and its config, so
 * that its start and hellos are not on the resolve's path.
 * The command's driver ({@link CommandContext.plugins}) then takes these processes over.
 *
 * @example
 * ```ts
 * import { earlyPluginSchemes } from "./early_plugins.ts";
 * earlyPluginSchemes("pull", { ref: ["mirror:tiny", "hf:o/r"] }, {}); // ["mirror"]
 * ```
 * @module
 */
import { pluginsDirOf } from "../config_env.ts";
import type { SupervisedPlugin } from "../plugin/plugin_supervisor.ts";
import { pluginScheme } from "../registry/reference.ts";

/**
 * The references `command` will resolve in this process: `pull REF…` and `run|chat|embed MODEL` unless
 * the daemon resolves them (`--socket`, `--detach`), `lock add REF`. `sync` resolves none (a locked plan
 * names its URLs), nor does any other command.
 */
function referencesOf(
  command: string,
  args: Record<string, unknown>,
  options: Record<string, unknown>,
): unknown[] {
  const inDaemon = options.socket !== undefined || options.detach === true;
  if (command === "pull" && !inDaemon) return Array.isArray(args.ref) ? args.ref : [];
  if ((command === "run" || command === "chat" || command === "embed") && !inDaemon) return [args.model];
  if (command === "lock" && args.action === "add") return [args.target];
  return [];
}

/** The schemes of the references `command` will resolve in this process that may be plugins'. */
export function earlyPluginSchemes(
  command: string,
  args: Record<string, unknown>,
  options: Record<string, unknown>,
): string[] {
  return referencesOf(command, args, options).flatMap((r) => {
    const scheme = typeof r === "string" ? pluginScheme(r) : undefined;
    return scheme === undefined ? [] : [scheme];
  });
}

/**
 * The command's out-of-process plugins, those claiming `schemes` started; undefined when `schemes` is
 * empty (nothing is imported then). A failure (a manifest that cannot be read) is left for the
 * command's own loading of the plugins to report.
 */
export function earlyPlugins(
  schemes: readonly string[],
  dirs: readonly string[] | undefined,
  env: Record<string, string | undefined>,
): Promise<SupervisedPlugin[]> | undefined {
  if (schemes.length === 0) return undefined;
  const started = import("./plugin_manifests.ts").then(({ prestartPlugins }) =>
    prestartPlugins({ dirs, pluginsDir: pluginsDirOf(env), env }, schemes)
  );
  started.catch(() => {});
  return started;
}
