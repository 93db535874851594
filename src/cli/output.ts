/**
 * Everything the CLI prints goes through here: NDJSON events with `--json`,
 * human lines otherwise, nothing but results and errors with `--quiet`,
 * colours only on a terminal and never with `NO_COLOR`.
 *
 * @example
 * ```ts
 * const out = new Output({ json: false, quiet: false, color: true });
 * out.result("pulled stories260K");
 * ```
 * @module
 */
import type { LodeError } from "../errors.ts";
import type { ErrorEvent } from "../events/error_event.ts";

/** How to print. */
export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  color: boolean;
}

const encoder = new TextEncoder();

function writeAllSync(target: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += target.writeSync(bytes.subarray(written));
}

/** The CLI's printer. */
export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly stderrIsTty: boolean;
  readonly #color: boolean;
  /** Set once an error was printed as an event, so it is not printed twice. */
  errorReported = false;
  /** Exit code for a command that reported its failures itself and finished (e.g. `verify --all`). */
  exitCode = 0;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.quiet = options.quiet;
    this.stderrIsTty = Deno.stderr.isTerminal();
    this.#color = options.color && this.stderrIsTty;
  }

  /** An NDJSON event on stdout (only with `--json`). */
  event(event: object): void {
    if (this.json) writeAllSync(Deno.stdout, JSON.stringify(event) + "\n");
  }

  /** A result line for people on stdout (not with `--json`). */
  result(line: string): void {
    if (!this.json) writeAllSync(Deno.stdout, line + "\n");
  }

  /** Raw text on stdout (generated tokens). */
  text(chunk: string): void {
    writeAllSync(Deno.stdout, chunk);
  }

  /** Progress and notes for people on stderr (not with `--json` or `--quiet`). */
  note(line: string): void {
    if (!this.json && !this.quiet) writeAllSync(Deno.stderr, line + "\n");
  }

  /** Raw text on stderr, for progress renderers. */
  stderr(text: string): void {
    writeAllSync(Deno.stderr, text);
  }

  /** Dim text when colours are on. */
  dim(text: string): string {
    return this.#color ? `\x1b[2m${text}\x1b[22m` : text;
  }

  /** An error: a JSON event with `--json`, otherwise `error[CODE]: message` and a hint on stderr. */
  error(error: LodeError): void {
    if (this.json) {
      if (!this.errorReported) this.event({ event: "error", ...error.toJSON() } satisfies ErrorEvent);
    } else {
      const label = this.#color ? `\x1b[31merror[${error.code}]\x1b[39m` : `error[${error.code}]`;
      writeAllSync(Deno.stderr, `${label}: ${error.message}\n  hint: ${error.hint}\n`);
    }
    this.errorReported = true;
  }
}

/** `1.1 MiB`, `512 B`, `3.2 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
