/**
 * The plugins of one command, loaded at the composition root: the built-in registries (in-process),
 * then each `--plugin DIR`, then the installed plugins (`$XDG_CONFIG_HOME/lode/plugins/<name>/`) whose
 * names no `--plugin` took, all registered with one {@link PluginDriver}. An out-of-process plugin's
 * process starts on its first call, sandboxed by its manifest, with an environment made from `env` alone.
 *
 * @example
 * ```ts
 * import { installedPluginDirs } from "./plugin_host.ts";
 * const dirs = await installedPluginDirs("/home/me/.config/lode/plugins"); // ["/home/me/…/plugins/mirror"]
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { MANIFEST_FILE, type PluginManifest, readManifest } from "../plugin/manifest.ts";
import { PluginDriver } from "../plugin/plugin_driver.ts";
import { SupervisedPlugin, type SupervisorOptions } from "../plugin/plugin_supervisor.ts";
import { denoExecutable, sandboxCommand } from "../plugin/sandbox.ts";
import type { RegistryContext, RegistrySettings } from "../registry/registry.ts";
import { builtinPlugins } from "./plugin_registry.ts";

/**
 * The folders of the installed plugins (the links under `pluginsDir` resolved), in the order of their
 * names; none when `pluginsDir` does not exist.
 */
export async function installedPluginDirs(pluginsDir: string): Promise<string[]> {
  const dirs: string[] = [];
  try {
    const entries = await Array.fromAsync(Deno.readDir(pluginsDir));
    for (const entry of entries.sort((a, b) => a.name < b.name ? -1 : 1)) {
      if (!entry.isDirectory && !entry.isSymlink) continue;
      const dir = `${pluginsDir}/${entry.name}`;
      try {
        await Deno.stat(`${dir}/${MANIFEST_FILE}`);
        // The plugin's own folder, so that the modules it imports resolve from where it is.
        dirs.push(await Deno.realPath(dir));
      } catch {
        // A folder without a manifest is not a plugin (an interrupted `lode plugin add`).
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return dirs;
}

/** What {@link loadPlugins} needs from its command. */
export interface PluginHostOptions {
  /** `--plugin` folders. */
  dirs?: readonly string[];
  /** Where installed plugins live (the config's `pluginsDir`). */
  pluginsDir: string;
  /** lode's environment: the source of a plugin's declared `env` names and of `LODE_DENO`. */
  env: Record<string, string | undefined>;
  /** What the built-in registries resolve with. */
  registryContext(hosts: string[]): Promise<RegistryContext>;
  settings: RegistrySettings;
}

/** The `run` commands and `ffi` paths a manifest asks for: what `lode plugin add` needs accepted. */
export function powerfulPermissions(m: PluginManifest): { run: string[]; ffi: string[] } {
  return {
    run: (m.permissions.run ?? []).map((e) => e.command),
    ffi: (m.permissions.ffi ?? []).map((e) => e.path),
  };
}

/** Where `lode plugin add` records the run and ffi permissions accepted for the plugin `name`. */
export function acceptedFile(pluginsDir: string, name: string): string {
  return `${pluginsDir}/${name}.accepted.json`;
}

async function readAccepted(pluginsDir: string, name: string): Promise<{ run: string[]; ffi: string[] }> {
  try {
    const parsed = JSON.parse(await Deno.readTextFile(acceptedFile(pluginsDir, name)));
    return { run: [...parsed.run ?? []], ffi: [...parsed.ffi ?? []] };
  } catch {
    return { run: [], ffi: [] };
  }
}

/**
 * `PLUGIN_DENIED` unless every run and ffi permission of `m` is in `accepted` (a `--plugin` folder has
 * none accepted: such a plugin must be installed with `lode plugin add --yes`).
 */
function assertAccepted(m: PluginManifest, accepted: { run: string[]; ffi: string[] }, how: string): void {
  const asked = powerfulPermissions(m);
  const run = asked.run.filter((c) => !accepted.run.includes(c));
  const ffi = asked.ffi.filter((p) => !accepted.ffi.includes(p));
  if (run.length === 0 && ffi.length === 0) return;
  const what = [...run.map((c) => `run ${c}`), ...ffi.map((p) => `ffi ${p}`)].join(", ");
  throw new LodeError("PLUGIN_DENIED", `plugin ${m.name} asks for ${what}, which ${how}`, {
    details: { plugin: m.name, hook: "start", permission: run.length ? "run" : "ffi", run, ffi },
    hint: `Read its manifest's reasons, then accept them: lode plugin add ${m.dir} --yes`,
  });
}

/**
 * The manifests of `--plugin` folders, then of installed plugins of other names; `PLUGIN_DENIED` for one
 * whose run or ffi permissions were not accepted by `lode plugin add`.
 */
export async function pluginManifests(options: Pick<PluginHostOptions, "dirs" | "pluginsDir">): Promise<
  PluginManifest[]
> {
  const given = await Promise.all((options.dirs ?? []).map((dir) => readManifest(dir)));
  for (const m of given) {
    assertAccepted(m, { run: [], ffi: [] }, "a plugin loaded with --plugin is not given");
  }
  const names = new Set(given.map((m) => m.name));
  const installed = await Promise.all(
    (await installedPluginDirs(options.pluginsDir)).map((d) => readManifest(d)),
  );
  const others = installed.filter((m) => !names.has(m.name));
  for (const m of others) {
    assertAccepted(m, await readAccepted(options.pluginsDir, m.name), "were not accepted");
  }
  return [...given, ...others];
}

/** A supervised process for `manifest`, sandboxed, its environment made from `env`. */
export function supervise(
  manifest: PluginManifest,
  env: Record<string, string | undefined>,
  options: SupervisorOptions = {},
): SupervisedPlugin {
  const defined = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  return new SupervisedPlugin(manifest, {
    ...options,
    command: sandboxCommand(manifest, { deno: denoExecutable(defined, Deno.execPath()), env: defined }),
  });
}

/** The driver of a command: the built-ins, then the plugins of {@link pluginManifests}. */
export async function loadPlugins(options: PluginHostOptions): Promise<PluginDriver> {
  const driver = new PluginDriver();
  for (const plugin of builtinPlugins((hosts) => options.registryContext(hosts), options.settings)) {
    driver.register(plugin);
  }
  for (const manifest of await pluginManifests(options)) {
    driver.registerRemote(supervise(manifest, options.env));
  }
  return driver;
}
