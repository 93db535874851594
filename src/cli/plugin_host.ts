/**
 * The plugins of one command, loaded at the composition root: the built-in registries (in-process),
 * then each `--plugin DIR`, then the installed plugins (`$XDG_CONFIG_HOME/lode/plugins/<name>/`) whose
 * names no `--plugin` took (plugin_manifests.ts), all registered with one {@link PluginDriver}. An
 * out-of-process plugin's process starts on its first call (or earlier: {@link prestartPlugins}),
 * sandboxed by its manifest, with an environment made from `env` alone.
 *
 * @example
 * ```ts
 * import { installedPluginDirs } from "./plugin_host.ts";
 * const dirs = await installedPluginDirs("/home/me/.config/lode/plugins"); // ["/home/me/…/plugins/mirror"]
 * ```
 * @module
 */
import type { PluginDriver } from "../plugin/plugin_driver.ts";
import { remotePlugin } from "../plugin/remote_plugin.ts";
import type { SupervisedPlugin } from "../plugin/plugin_supervisor.ts";
import type { RegistryContext, RegistrySettings } from "../registry/registry.ts";
import { pluginManifests, type PluginSources, supervise } from "./plugin_manifests.ts";
import { builtinDriver } from "./plugin_registry.ts";

export {
  acceptedFile,
  installedPluginDirs,
  pluginManifests,
  powerfulPermissions,
  prestartPlugins,
  supervise,
} from "./plugin_manifests.ts";

/** What {@link loadPlugins} needs from its command. */
export interface PluginHostOptions extends PluginSources {
  /** What the built-in registries resolve with. */
  registryContext(hosts: string[]): Promise<RegistryContext>;
  settings: RegistrySettings;
  /**
   * The out-of-process plugins, already supervised by {@link prestartPlugins} (default: one for each of
   * {@link pluginManifests}, none started).
   */
  supervised?: Promise<SupervisedPlugin[]>;
}

/** Registers the plugins of {@link pluginManifests} (or `options.supervised`) with `driver`, after its others. */
export async function addPlugins(driver: PluginDriver, options: PluginHostOptions): Promise<PluginDriver> {
  const supervised = options.supervised ??
    pluginManifests(options).then((manifests) => manifests.map((m) => supervise(m, options.env)));
  for (const plugin of await supervised) driver.registerRemote(plugin, remotePlugin(plugin));
  return driver;
}

/** The driver of a command: the built-ins, then the plugins of {@link pluginManifests}. */
export async function loadPlugins(options: PluginHostOptions): Promise<PluginDriver> {
  return await addPlugins(builtinDriver(options), options);
}
