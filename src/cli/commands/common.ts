/**
 * Shared pieces of command definitions: the action wrapper that builds the
 * context, and help-text examples.
 * @module
 */
import type { Command } from "commander";
import type { CommandContext, CommonFlags } from "../context.ts";

/** Wraps a command body: builds its context from the command's (and global) options. */
export type Runner = <A extends unknown[]>(
  body: (ctx: CommandContext, ...args: A) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

/** Creates the {@link Runner} for a program, given how to build a context. */
export function makeRunner(build: (flags: CommonFlags) => Promise<CommandContext>): Runner {
  return (body) => async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const flags = command.optsWithGlobals() as CommonFlags;
    const ctx = await build(flags);
    await body(ctx, ...(args.slice(0, -1) as never));
  };
}

/** The "Examples:" block every command's help ends with. */
export function example(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
}
