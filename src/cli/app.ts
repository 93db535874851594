/**
 * The `lode` command line: parse (see {@link PROGRAM}), print help or the
 * version, build the command's context, run the command's lazily imported
 * implementation, and map every failure to a typed error and its exit code: its `error` event is
 * published on the process's command stream (command_events.ts) before the command's context is released.
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
import type { EventStream } from "../events/event_stream.ts";
import type { SupervisedPlugin } from "../plugin/plugin_supervisor.ts";
import { commandEvents, reportError } from "./command_events.ts";
import type { CommandContext, CommonFlags } from "./context.ts";
import { earlyPlugins, earlyPluginSchemes } from "./early_plugins.ts";
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
  // The process's one stream of command events: the `--json` printer listens from the start.
  const events = commandEvents(output);
  let ctx: CommandContext | null = null;
  let early: Promise<SupervisedPlugin[]> | undefined;
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
    // Started before the command's modules load: the plugins its references need (none for most).
    early = earlyPlugins(
      earlyPluginSchemes(parsed.command.name, parsed.args, parsed.options),
      parsed.options.plugin as string[] | undefined,
      options.env,
    );
    // Their processes spawned (not their hellos) before lode's own modules load, which takes longer.
    await early?.catch(() => {});
    // Imported after --help/--version: they need neither the config nor the store.
    const [{ createContext }, command] = await Promise.all([
      import("./context.ts"),
      COMMANDS[parsed.command.name]!(),
    ]);
    ctx = await createContext(parsed.options as CommonFlags, options.env, output, {
      events,
      sinks: SINK_COMMANDS.has(parsed.command.name),
      plugins: early,
    });
    await command.run(ctx, parsed);
    const done = ctx;
    ctx = null;
    await done.dispose();
    return output.closed.aborted ? EXIT.OUTPUT_CLOSED : output.exitCode;
  } catch (e) {
    try {
      return await reportFailure(e, {
        output,
        events,
        ctx,
        lockfile: settings.lockfile,
        debug: settings.debug,
      });
    } finally {
      // Released after its failure was published, so every subscriber of the stream has it; the failure
      // reported is the command's, not a later one of the release.
      await ctx?.dispose().catch(() => {});
      // Plugins started early for a command whose context was never made are stopped here.
      if (ctx === null) await early?.then((ps) => Promise.all(ps.map((p) => p.shutdown()))).catch(() => {});
    }
  }
}

/** Reports what a command failed with (on the stream, and for people) and returns its exit code. */
async function reportFailure(
  e: unknown,
  o: { output: Output; events: EventStream; ctx: CommandContext | null; lockfile?: string; debug: boolean },
): Promise<number> {
  const { output } = o;
  // The command stopped because its output closed (or failed after that): nothing to tell anyone.
  if (output.closed.aborted) return EXIT.OUTPUT_CLOSED;
  const error = await withLockfileHint(toLodeError(e), o.lockfile);
  try {
    await o.ctx?.endProgress();
    reportError(o.events, output, error);
    if (error.code === "INTERNAL" && o.debug) {
      output.stderr(`${e instanceof Error ? e.stack : String(e)}\n`);
    }
  } catch (printing) {
    if (printing instanceof OutputClosed) return EXIT.OUTPUT_CLOSED;
    throw printing;
  }
  return error.exitCode;
}
