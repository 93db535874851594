/**
 * The `lode` command line: global options, one registered command per file in
 * `commands/`, and the mapping of every failure to a typed error and exit code.
 *
 * @example
 * ```ts
 * const code = await runCli(["ls", "--json"], { env: Deno.env.toObject() });
 * ```
 * @module
 */
import { Command, CommanderError, Option } from "commander";
import { EXIT, LodeError, toLodeError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { createContext } from "./context.ts";
import { Output } from "./output.ts";
import { example, makeRunner } from "./commands/common.ts";
import { registerPull } from "./commands/pull.ts";
import { registerLs } from "./commands/ls.ts";
import { registerRm } from "./commands/rm.ts";
import { registerPath } from "./commands/path.ts";
import { registerVerify } from "./commands/verify.ts";
import { registerImport } from "./commands/import.ts";
import { registerRun } from "./commands/run.ts";

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((s) => s.trim()).filter(Boolean)];
}

/** Options of {@link runCli}. */
export interface RunCliOptions {
  env: Record<string, string | undefined>;
}

/** Runs the CLI on `argv` (without the program name) and returns the exit code. */
export async function runCli(argv: string[], options: RunCliOptions): Promise<number> {
  let lastOutput: Output | null = null;
  const program = new Command("lode")
    .description("pull, verify and run local LLM models from a content-addressed store")
    .version(VERSION, "-V, --version", "print the version")
    .addOption(
      new Option("--store <dir>", "store directory (default: $MODELS_HOME or ~/.local/share/models)"),
    )
    .option("--json", "print NDJSON events on stdout instead of text")
    .option("-q, --quiet", "print only results and errors")
    .option("--ca-cert <file>", "also trust this CA certificate (PEM); repeatable", collect)
    .option(
      "--allow-host <host>",
      "also allow this host (e.g. a mirror a redirect goes to); repeatable",
      collect,
    )
    .option(
      "--allow-http <host>",
      "allow plain http to this host (loopback mirrors, tests); repeatable",
      collect,
    )
    .option("--offline", "never open a network connection")
    .option("--no-wait", "fail with LOCK_CONTENDED instead of waiting for another lode process")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      example("lode run https://example.com/stories260K.gguf 'Once upon a time'", "lode ls"),
    )
    .exitOverride()
    .configureOutput({
      writeErr: (s) => Deno.stderr.writeSync(new TextEncoder().encode(s)),
      writeOut: (s) => Deno.stdout.writeSync(new TextEncoder().encode(s)),
    });
  const run = makeRunner(async (flags) => {
    const ctx = await createContext(flags, options.env);
    lastOutput = ctx.output;
    return ctx;
  });
  for (
    const register of [
      registerPull,
      registerRun,
      registerLs,
      registerRm,
      registerVerify,
      registerPath,
      registerImport,
    ]
  ) {
    register(program, run);
  }
  for (const cmd of program.commands) cmd.exitOverride().showHelpAfterError(true);

  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof Deno.exitCode === "number" ? Deno.exitCode : EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0) {
        return EXIT.OK;
      }
      return EXIT.USAGE;
    }
    const error = toLodeError(e);
    const output: Output = lastOutput ?? new Output({
      json: argv.includes("--json"),
      quiet: false,
      color: !options.env.NO_COLOR,
    });
    output.error(error);
    if (error.code === "INTERNAL" && options.env.LODE_DEBUG) console.error(e);
    return error.exitCode;
  }
}

export { LodeError };
