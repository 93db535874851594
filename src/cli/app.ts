/**
 * The `lode` command line: parse (see {@link PROGRAM}), print help or the
 * version, build the command's context, run the command's lazily imported
 * implementation, and map every failure to a typed error and its exit code.
 * Once the output has closed (the reader of stdout or stderr went away; see
 * output.ts) nothing more is printed and the exit code is 141, whatever the
 * command's work ended with.
 *
 * @example
 * ```ts
 * const code = await runCli(["ls", "--json"], { env: Deno.env.toObject() });
 * ```
 * @module
 */
import { cliSettings } from "../config_env.ts";
import { EXIT, toLodeError } from "../errors.ts";
import { parseArgv, renderHelp } from "./args.ts";
import type { CommonFlags } from "./context.ts";
import { withLockfileHint } from "./lockfile_hint.ts";
import { Output, OutputClosed } from "./output.ts";
import { COMMANDS, PROGRAM, SINK_COMMANDS } from "./program.ts";

/** Options of {@link runCli}. */
export interface RunCliOptions {
  env: Record<string, string | undefined>;
}

/** Runs the CLI on `argv` (without the program name) and returns the exit code. */
export async function runCli(argv: string[], options: RunCliOptions): Promise<number> {
  const settings = cliSettings(options.env);
  const output = new Output({
    json: argv.includes("--json"),
    quiet: argv.includes("--quiet") || argv.includes("-q"),
    color: settings.color,
  });
  try {
    const parsed = parseArgv(argv, PROGRAM);
    if (parsed.version) {
      output.text(`${PROGRAM.version}\n`);
      return EXIT.OK;
    }
    if (parsed.help || parsed.command === null) {
      output.text(renderHelp(PROGRAM, parsed.command));
      return parsed.help ? EXIT.OK : EXIT.USAGE;
    }
    // Imported after --help/--version: they need neither the config nor the store.
    const [{ createContext }, command] = await Promise.all([
      import("./context.ts"),
      COMMANDS[parsed.command.name]!(),
    ]);
    const ctx = await createContext(parsed.options as CommonFlags, options.env, output, {
      sinks: SINK_COMMANDS.has(parsed.command.name),
    });
    try {
      await command.run(ctx, parsed);
    } finally {
      await ctx.dispose();
    }
    return output.closed.aborted ? EXIT.OUTPUT_CLOSED : output.exitCode;
  } catch (e) {
    // The command stopped because its output closed (or failed after that): nothing to tell anyone.
    if (output.closed.aborted) return EXIT.OUTPUT_CLOSED;
    const error = await withLockfileHint(toLodeError(e), settings.lockfile);
    try {
      output.error(error);
      if (error.code === "INTERNAL" && settings.debug) {
        output.stderr(`${e instanceof Error ? e.stack : String(e)}\n`);
      }
    } catch (printing) {
      if (printing instanceof OutputClosed) return EXIT.OUTPUT_CLOSED;
      throw printing;
    }
    return error.exitCode;
  }
}
