/**
 * The out-of-process plugins of one command, found and supervised: each `--plugin DIR`, then the installed
 * plugins (`$XDG_CONFIG_HOME/lode/plugins/<name>/`) whose names no `--plugin` took, their run and ffi
 * permissions checked against what `lode plugin add` accepted, each given a supervised process sandboxed by
 * its manifest (started on its first call, or at once by {@link prestartPlugins}). Imports no registry, so
 * that a plugin's process can start before the rest of lode has loaded.
 *
 * @example
 * ```ts
 * import { installedPluginDirs } from "./plugin_manifests.ts";
 * const dirs = await installedPluginDirs("/home/me/.config/lode/plugins"); // ["/home/me/…/plugins/mirror"]
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { MANIFEST_FILE, type PluginManifest, readManifest } from "../plugin/manifest.ts";
import { SupervisedPlugin, type SupervisorOptions } from "../plugin/plugin_supervisor.ts";
import { denoExecutable, sandboxCommand } from "../plugin/sandbox.ts";

/** Where a command's plugins are found, and the environment they are made from. */
export interface PluginSources {
  /** `--plugin` folders. */
  dirs?: readonly string[];
  /** Where installed plugins live (the config's `pluginsDir`). */
  pluginsDir: string;
  /** lode's environment: the source of a plugin's declared `env` names and of `LODE_DENO`. */
  env: Record<string, string | undefined>;
}

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
export async function pluginManifests(options: Pick<PluginSources, "dirs" | "pluginsDir">): Promise<
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

/**
 * The plugins of {@link pluginManifests}, supervised, the first claiming each of `schemes` started now
 * (its hellos said while the caller goes on): what {@link loadPlugins} then registers as `supervised`.
 * A start that fails is a fault the supervisor keeps; the first call reports it.
 */
export async function prestartPlugins(
  options: PluginSources,
  schemes: readonly string[],
): Promise<SupervisedPlugin[]> {
  const supervised = (await pluginManifests(options)).map((m) => supervise(m, options.env));
  for (const scheme of new Set(schemes)) {
    supervised.find((p) => p.manifest.schemes?.includes(scheme))?.start().catch(() => {});
  }
  return supervised;
}
