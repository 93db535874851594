/**
 * How the daemon starts a runner process: the same lode executable with the
 * hidden subcommand {@link RUNNER_SUBCOMMAND} (dispatched by main.ts before
 * the CLI loads, never listed in `--help`). In a compiled binary
 * (`Deno.build.standalone`) that is the binary itself; from a checkout it is
 * `deno run -A --config <checkout>/deno.json <checkout>/main.ts __runner`.
 *
 * This module imports nothing, so main.ts can read the subcommand's name
 * without loading the daemon.
 * @module
 */

/** The hidden first argument that makes `lode` a runner process. */
export const RUNNER_SUBCOMMAND = "__runner";

/**
 * An executable and its arguments.
 *
 * @example
 * ```ts
 * import type { RunnerCommand } from "./runner_command.ts";
 * const compiled: RunnerCommand = { command: "/usr/local/bin/lode", args: ["__runner"] };
 * ```
 */
export interface RunnerCommand {
  command: string;
  args: string[];
}

/** Options of {@link runnerCommand}; defaults are this process's. */
export interface RunnerCommandOptions {
  /** The running executable (default `Deno.execPath()`). */
  execPath?: string;
  /** True in a `deno compile`d binary (default `Deno.build.standalone`). */
  standalone?: boolean;
  /** main.ts of the checkout, for `deno run` (default: the one beside this source tree). */
  mainModule?: URL;
}

/**
 * The command that starts a runner from this process.
 *
 * @example
 * ```ts
 * runnerCommand({ execPath: "/opt/lode", standalone: true }); // { command: "/opt/lode", args: ["__runner"] }
 * ```
 */
export function runnerCommand(options: RunnerCommandOptions = {}): RunnerCommand {
  const execPath = options.execPath ?? Deno.execPath();
  const standalone = options.standalone ?? isStandalone();
  if (standalone) return { command: execPath, args: [RUNNER_SUBCOMMAND] };
  const main = options.mainModule ?? new URL("../../../main.ts", import.meta.url);
  const config = new URL("deno.json", main);
  return {
    command: execPath,
    args: ["run", "-A", "--quiet", "--config", pathOf(config), pathOf(main), RUNNER_SUBCOMMAND],
  };
}

function pathOf(url: URL): string {
  return decodeURIComponent(url.pathname);
}

function isStandalone(): boolean {
  return (Deno.build as { standalone?: boolean }).standalone === true;
}
