/**
 * A small, typed command-line parser with help rendering.
 *
 * Why not commander / citty / `node:util` parseArgs: each of them loads Deno's
 * Node compatibility layer before the first line of lode runs, and `lode
 * --version` and `lode ls` must start in under 100 ms (docs/benchmarks.md), so
 * the parser is Deno-only and declarative: commands and options are data, help
 * text is generated from the same data.
 *
 * Grammar: `lode [global options] COMMAND [options] [args]`; options may appear
 * anywhere (global ones too), `--opt value` or `--opt=value`, `-x value`,
 * `--no-FLAG` for negatable flags, `--` ends options.
 * @module
 */
import { LodeError } from "../errors.ts";

/** One option. `name` is the long form without dashes (`max-tokens`). */
export interface OptionSpec {
  name: string;
  short?: string;
  /** `boolean` flags take no value; `list` options may repeat and split on commas. */
  type: "boolean" | "string" | "list";
  description: string;
  /** Placeholder in help (`<n>`). */
  value?: string;
  default?: string;
  /** A boolean flag whose `--no-NAME` form sets it false (e.g. `--no-wait`). */
  negatable?: boolean;
  /** For `list`: false keeps each value whole instead of splitting it on commas (e.g. `--stop`). */
  split?: boolean;
}

/** One positional argument. */
export interface ArgSpec {
  name: string;
  description: string;
  required?: boolean;
  /** Takes every remaining positional. */
  variadic?: boolean;
}

/** One command. */
export interface CommandSpec {
  name: string;
  aliases?: string[];
  summary: string;
  args: ArgSpec[];
  options: OptionSpec[];
  examples: string[];
  /** Paragraph lines printed after the options (behaviour worth knowing before the examples). */
  notes?: string[];
  /** Not listed in the program's help (internal subcommands). */
  hidden?: boolean;
}

/** The whole program. */
export interface ProgramSpec {
  name: string;
  summary: string;
  version: string;
  global: OptionSpec[];
  commands: CommandSpec[];
  examples: string[];
}

/** Option values keyed by camelCase name (`maxTokens`). */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** The parsed command line. */
export interface ParsedArgv {
  /** null when no command was given (e.g. `lode --version`). */
  command: CommandSpec | null;
  /** Positional values by argument name (camelCase); variadic ones are arrays. */
  args: Record<string, string | string[] | undefined>;
  options: OptionValues;
  help: boolean;
  version: boolean;
}

/** `max-tokens` → `maxTokens`. */
export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function usage(message: string, command: CommandSpec | null): LodeError {
  const help = command ? `lode ${command.name} --help` : "lode --help";
  return new LodeError("USAGE", message, { hint: `Run \`${help}\` for the options and an example.` });
}

/** Parses `argv` against `program`; throws a `USAGE` error that says what was wrong. */
export function parseArgv(argv: string[], program: ProgramSpec): ParsedArgv {
  let command: CommandSpec | null = null;
  const positionals: string[] = [];
  const options: OptionValues = {};
  let help = false;
  let version = false;
  const known = (): OptionSpec[] => [...program.global, ...(command?.options ?? [])];
  const find = (long: string | null, short: string | null) =>
    known().find((o) => (long !== null && o.name === long) || (short !== null && o.short === short));

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (token === "-h" || token === "--help") {
      help = true;
      continue;
    }
    if ((token === "-V" || token === "--version") && command === null) {
      version = true;
      continue;
    }
    if (token.startsWith("-") && token !== "-") {
      const eq = token.indexOf("=");
      const isLong = token.startsWith("--");
      const key = isLong ? token.slice(2, eq === -1 ? undefined : eq) : token.slice(1, 2);
      const inline = eq === -1
        ? (isLong || token.length === 2 ? undefined : token.slice(2))
        : token.slice(eq + 1);
      let spec = isLong ? find(key, null) : find(null, key);
      let negated = false;
      if (!spec && isLong && key.startsWith("no-")) {
        spec = find(key.slice(3), null);
        negated = spec?.negatable === true;
        if (!negated) spec = undefined;
      }
      if (!spec) throw usage(`unknown option ${token.split("=")[0]}`, command);
      const name = camel(spec.name);
      if (spec.type === "boolean") {
        if (inline !== undefined) throw usage(`option --${spec.name} takes no value`, command);
        options[name] = !negated;
        continue;
      }
      const value = inline ?? argv[++i];
      if (value === undefined) throw usage(`option --${spec.name} needs a value`, command);
      if (spec.type === "list") {
        const list = (options[name] as string[] | undefined) ?? [];
        const values = spec.split === false ? [value] : value.split(",").map((s) => s.trim()).filter(Boolean);
        options[name] = [...list, ...values];
      } else options[name] = value;
      continue;
    }
    if (command === null && !help) {
      command = program.commands.find((c) => c.name === token || c.aliases?.includes(token)) ?? null;
      if (!command) throw usage(`unknown command "${token}"`, null);
      continue;
    }
    if (command === null) {
      command = program.commands.find((c) => c.name === token || c.aliases?.includes(token)) ?? null;
      if (command) continue;
    }
    positionals.push(token);
  }

  for (const spec of known()) {
    const name = camel(spec.name);
    if (options[name] === undefined && spec.default !== undefined) options[name] = spec.default;
  }
  const args: ParsedArgv["args"] = {};
  if (command && !help) {
    let next = 0;
    for (const spec of command.args) {
      const name = camel(spec.name);
      if (spec.variadic) {
        args[name] = positionals.slice(next);
        next = positionals.length;
        if (spec.required && (args[name] as string[]).length === 0) {
          throw usage(`missing ${spec.name}: lode ${command.name} ${argsUsage(command)}`, command);
        }
      } else {
        args[name] = positionals[next++];
        if (spec.required && args[name] === undefined) {
          throw usage(`missing ${spec.name}: lode ${command.name} ${argsUsage(command)}`, command);
        }
      }
    }
    if (next < positionals.length) {
      throw usage(`unexpected argument "${positionals[next]}" for lode ${command.name}`, command);
    }
  }
  return { command, args, options, help, version };
}

function argsUsage(command: CommandSpec): string {
  return command.args
    .map((a) => {
      const name = a.variadic ? `${a.name}...` : a.name;
      return a.required ? `<${name}>` : `[${name}]`;
    })
    .join(" ");
}

function optionRows(options: OptionSpec[]): [string, string][] {
  return options.map((o) => {
    const flag = o.type === "boolean" ? "" : ` ${o.value ?? "<value>"}`;
    const short = o.short ? `-${o.short}, ` : "    ";
    const long = o.negatable ? `--no-${o.name}` : `--${o.name}`;
    const def = o.default !== undefined ? ` (default: ${o.default})` : "";
    return [`${short}${long}${flag}`, o.description + def];
  });
}

function table(rows: [string, string][]): string {
  const width = Math.min(32, Math.max(...rows.map(([l]) => l.length)));
  return rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`).join("\n");
}

/** The help text of the program (no command) or of one command. */
export function renderHelp(program: ProgramSpec, command: CommandSpec | null): string {
  const examples = (lines: string[]) => `Examples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
  if (command === null) {
    const visible = program.commands.filter((c) => !c.hidden);
    return [
      `${program.name} ${program.version} — ${program.summary}\n`,
      `Usage: ${program.name} [options] <command> [args]\n`,
      `Commands:\n${table(visible.map((c) => [c.name, c.summary]))}\n`,
      `Global options:\n${
        table([...optionRows(program.global), ["-h, --help", "show help"], [
          "-V, --version",
          "print the version",
        ]])
      }\n`,
      examples(program.examples),
      `Run \`${program.name} COMMAND --help\` for a command's options.\n`,
    ].join("\n");
  }
  const parts = [
    `Usage: ${program.name} ${command.name} [options] ${argsUsage(command)}\n`,
    `${command.summary}\n`,
  ];
  if (command.args.length > 0) {
    parts.push(`Arguments:\n${table(command.args.map((a) => [a.name, a.description]))}\n`);
  }
  if (command.options.length > 0) parts.push(`Options:\n${table(optionRows(command.options))}\n`);
  if (command.notes !== undefined) parts.push(`${command.notes.map((l) => `  ${l}`).join("\n")}\n`);
  parts.push(`Global options: see \`${program.name} --help\`.\n`);
  parts.push(examples(command.examples));
  return parts.join("\n");
}
