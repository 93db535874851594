/**
 * How a plugin's process is started: a TypeScript or JavaScript entry runs under `deno run` with exactly
 * the permissions its manifest declares (`--allow-net=HOSTS`, `--allow-read=DIRS`, `--allow-write=DIRS`,
 * `--allow-env=NAMES`, and `--allow-run`/`--allow-ffi` only when declared; `--no-prompt`, so an
 * undeclared access fails at once); an executable entry runs as is. Either way the environment is
 * clean: only the names the manifest declares, never lode's secrets ({@link SECRET_ENV}), plus what the
 * runtime itself needs (`DENO_DIR`, `NO_COLOR`; `PATH` for an executable).
 *
 * @example
 * ```ts
 * import { parseManifest } from "./manifest.ts";
 * import { sandboxCommand } from "./sandbox.ts";
 * const manifest = parseManifest(
 *   JSON.stringify({
 *     name: "m", version: "1", api_version: 1, hooks: ["registry"], schemes: ["m"], entry: "main.ts",
 *     permissions: { net: [{ host: "127.0.0.1:8080", reason: "the mirror" }] },
 *   }),
 *   "/p/m/lode-plugin.json",
 * );
 * sandboxCommand(manifest, { deno: "/usr/bin/deno", env: {} }).args;
 * // ["run", "--no-prompt", "--quiet", "--allow-net=127.0.0.1:8080", "/p/m/main.ts"]
 * ```
 * @module
 */
import { type PluginManifest, resolveIn, SECRET_ENV } from "./manifest.ts";

/** A process to start: program, arguments, working directory and its whole environment. */
export interface SandboxCommand {
  program: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

/** What {@link sandboxCommand} takes from the host. */
export interface SandboxOptions {
  /** The `deno` executable ({@link denoExecutable}). */
  deno: string;
  /** The host's environment, the only source of the declared names. */
  env: Record<string, string>;
}

/**
 * The `deno` to run TypeScript plugins with: `LODE_DENO` when set; else this process's own executable
 * when it is deno (`deno run main.ts`); else `deno` on PATH. A binary made by `deno compile` is not a
 * `deno` (it runs only its embedded program), so a compiled lode needs `deno` on PATH or `LODE_DENO`.
 */
export function denoExecutable(env: Record<string, string | undefined>, execPath: string): string {
  if (env.LODE_DENO) return env.LODE_DENO;
  const base = execPath.slice(execPath.lastIndexOf("/") + 1);
  return /^deno(?:\.exe)?$/.test(base) ? execPath : "deno";
}

function denoDir(env: Record<string, string>): string | undefined {
  if (env.DENO_DIR) return env.DENO_DIR;
  if (env.XDG_CACHE_HOME) return `${env.XDG_CACHE_HOME}/deno`;
  if (env.HOME) return `${env.HOME}/.cache/deno`;
  return undefined;
}

/** The `--allow-…` flags of a manifest's permissions, in a fixed order. */
export function permissionFlags(manifest: PluginManifest): string[] {
  const p = manifest.permissions;
  const flags: string[] = [];
  const list = (flag: string, values: string[] | undefined) => {
    if (values !== undefined && values.length > 0) flags.push(`--allow-${flag}=${values.join(",")}`);
  };
  list("net", p.net?.map((e) => e.host));
  list("read", p.read?.map((e) => resolveIn(manifest.dir, e.path)));
  list("write", p.write?.map((e) => resolveIn(manifest.dir, e.path)));
  list("env", p.env?.map((e) => e.name));
  list("run", p.run?.map((e) => e.command));
  list("ffi", p.ffi?.map((e) => resolveIn(manifest.dir, e.path)));
  return flags;
}

/** The clean environment of a plugin's process. */
export function pluginEnv(manifest: PluginManifest, hostEnv: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  const cache = denoDir(hostEnv);
  if (manifest.runtime === "deno" && cache !== undefined) env.DENO_DIR = cache;
  if (manifest.runtime === "exec" && hostEnv.PATH !== undefined) env.PATH = hostEnv.PATH;
  for (const { name } of manifest.permissions.env ?? []) {
    if (SECRET_ENV.includes(name)) continue;
    const value = hostEnv[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** The command that starts the plugin of `manifest`. */
export function sandboxCommand(manifest: PluginManifest, options: SandboxOptions): SandboxCommand {
  const env = pluginEnv(manifest, options.env);
  if (manifest.runtime === "exec") return { program: manifest.entryPath, args: [], cwd: manifest.dir, env };
  return {
    program: options.deno,
    args: ["run", "--no-prompt", "--quiet", ...permissionFlags(manifest), manifest.entryPath],
    cwd: manifest.dir,
    env,
  };
}

/**
 * `command` with `paths` added to what its plugin may read: the `--allow-read` list of a plugin run by
 * `deno run` grows by them (paths it holds already are not repeated). An executable plugin's command is
 * returned as it is (it reads what its user can).
 *
 * @example
 * ```ts
 * import { withRead } from "./sandbox.ts";
 * withRead({ program: "deno", args: ["run", "--no-prompt", "/p/main.ts"], cwd: "/p", env: {} }, ["/store/blobs"]).args;
 * // ["run", "--no-prompt", "--allow-read=/store/blobs", "/p/main.ts"]
 * ```
 */
export function withRead(command: SandboxCommand, paths: readonly string[]): SandboxCommand {
  if (command.args[0] !== "run" || paths.length === 0) return command;
  const args = [...command.args];
  const at = args.findIndex((a) => a.startsWith("--allow-read="));
  const held = at === -1 ? [] : args[at]!.slice("--allow-read=".length).split(",");
  const added = paths.filter((p) => !held.includes(p));
  if (added.length === 0) return command;
  const flag = `--allow-read=${[...held, ...added].join(",")}`;
  if (at === -1) args.splice(args.length - 1, 0, flag);
  else args[at] = flag;
  return { ...command, args };
}
