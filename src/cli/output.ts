/**
 * Everything the CLI prints goes through here: NDJSON events with `--json` (a command's events come
 * from its event stream, command_events.ts), human lines otherwise, nothing but results and errors with `--quiet`,
 * colours only on a terminal and never with `NO_COLOR`.
 *
 * A closed output (the reader of stdout or stderr went away: `lode run M … | head -c 20`) is one
 * condition, {@link OutputClosed}: the write that meets the closed pipe aborts {@link Output.closed}
 * with it and throws it, and every later write throws it too. Commands stop their work through that
 * signal (a pull stops and keeps its resumable partial, a load or a generation is cancelled), and
 * `runCli` (app.ts) ends the process quietly with exit 141, as SIGPIPE would. Callbacks handed to lower
 * layers (download events, load phases, the daemon's notices) are wrapped with {@link Output.sink}: there
 * a closed output drops the write instead of throwing into code that does not expect it.
 *
 * @example
 * ```ts
 * const out = new Output({ json: false, quiet: false, color: true });
 * out.result("pulled stories260K");
 * ```
 * @module
 */
import type { LodeError } from "../errors.ts";

/** A stream the CLI writes to (`Deno.stdout`, `Deno.stderr`). */
export interface OutputStream {
  writeSync(p: Uint8Array): number;
  write(p: Uint8Array): Promise<number>;
  isTerminal(): boolean;
}

/** How to print. */
export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  color: boolean;
  /** Where stdout and stderr go (default: the process's). */
  streams?: { stdout: OutputStream; stderr: OutputStream };
}

/** Which of the two outputs. */
export type OutputName = "stdout" | "stderr";

/**
 * The reader of stdout or stderr went away. Never printed: the CLI stops quietly and exits 141.
 *
 * @example
 * ```ts
 * import { OutputClosed } from "./output.ts";
 * const quiet = (e: unknown) => e instanceof OutputClosed;
 * ```
 */
export class OutputClosed extends Error {
  override readonly name = "OutputClosed";
  /** The output whose reader went away first. */
  readonly output: OutputName;

  constructor(output: OutputName, options?: { cause?: unknown }) {
    super(`the reader of ${output} went away`, options);
    this.output = output;
  }
}

const encoder = new TextEncoder();

/** True for the error a write to a pipe without a reader fails with (EPIPE; lode ignores SIGPIPE). */
function isClosedPipe(e: unknown): boolean {
  return e instanceof Deno.errors.BrokenPipe;
}

/** The CLI's printer. */
export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly stdoutIsTty: boolean;
  readonly stderrIsTty: boolean;
  readonly #color: boolean;
  readonly #streams: Record<OutputName, OutputStream>;
  readonly #closing = new AbortController();
  /**
   * Set once the command's failure was reported as an event (its `error`, or a pull's `failed`), so no
   * second `error` event follows (`reportError`, command_events.ts).
   */
  errorReported = false;
  /**
   * Where `--json` lines go: stdout, or stderr when stdout carries something else (`lode export NAME -`
   * writes the bundle there).
   */
  eventsTo: OutputName = "stdout";
  /** The event objects printed so far: each is printed once. */
  readonly #printed = new WeakSet<object>();
  /** Exit code for a command that reported its failures itself and finished (e.g. `verify --all`). */
  exitCode = 0;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.quiet = options.quiet;
    this.#streams = options.streams ?? { stdout: Deno.stdout, stderr: Deno.stderr };
    this.stdoutIsTty = this.#streams.stdout.isTerminal();
    this.stderrIsTty = this.#streams.stderr.isTerminal();
    this.#color = options.color && this.stderrIsTty;
  }

  /** Aborted, with an {@link OutputClosed} as its reason, once the reader of stdout or stderr went away. */
  get closed(): AbortSignal {
    return this.#closing.signal;
  }

  /**
   * One NDJSON line on stdout (or {@link eventsTo}), only with `--json`; every line lode prints is tagged
   * by `event`. A command's events reach it through the command's stream (its printer is a listener,
   * command_events.ts); a command calls it directly only for a result that is no event (a job's record
   * or plan, `lode job`). An event object is printed once: a listener that prints the event of an
   * envelope the printer already printed adds no line.
   */
  event<E extends { event: string }>(event: E): void {
    if (!this.json || this.#printed.has(event)) return;
    this.#printed.add(event);
    this.#write(this.eventsTo, JSON.stringify(event) + "\n");
  }

  /** A result line for people on stdout (not with `--json`). */
  result(line: string): void {
    if (!this.json) this.#write("stdout", line + "\n");
  }

  /** Raw text on stdout (generated tokens). */
  text(chunk: string): void {
    this.#write("stdout", chunk);
  }

  /** Progress and notes for people on stderr (not with `--json` or `--quiet`). */
  note(line: string): void {
    if (!this.json && !this.quiet) this.#write("stderr", line + "\n");
  }

  /** Raw text on stderr, for progress renderers. */
  stderr(text: string): void {
    this.#write("stderr", text);
  }

  /** Bytes on stdout (`lode export NAME -`), through the same closed-output condition. */
  async bytes(chunk: Uint8Array): Promise<number> {
    this.#throwIfClosed();
    try {
      return await this.#streams.stdout.write(chunk);
    } catch (e) {
      throw this.#failed("stdout", e);
    }
  }

  /**
   * `write` for a callback that lower layers call (download events, load phases, notices): once the output
   * has closed it drops the write instead of throwing; the command's work stops through {@link closed}.
   */
  sink<A extends unknown[]>(write: (...args: A) => void): (...args: A) => void {
    return (...args) => {
      try {
        write(...args);
      } catch (e) {
        if (!(e instanceof OutputClosed)) throw e;
      }
    };
  }

  /** Dim text when colours are on. */
  dim(text: string): string {
    return this.#color ? `\x1b[2m${text}\x1b[22m` : text;
  }

  /**
   * An error for people: `error[CODE]: message` and a hint on stderr (not with `--json`: there the
   * command's failure is its `error` event, published on its stream by `reportError`, command_events.ts).
   */
  error(error: LodeError): void {
    if (this.json) return;
    const label = this.#color ? `\x1b[31merror[${error.code}]\x1b[39m` : `error[${error.code}]`;
    this.#write("stderr", `${label}: ${error.message}\n  hint: ${error.hint}\n`);
  }

  #write(name: OutputName, text: string): void {
    this.#throwIfClosed();
    const target = this.#streams[name];
    const bytes = encoder.encode(text);
    try {
      let written = 0;
      while (written < bytes.length) written += target.writeSync(bytes.subarray(written));
    } catch (e) {
      throw this.#failed(name, e);
    }
  }

  #throwIfClosed(): void {
    if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
  }

  /** What a failed write of `name` throws: the closed-output condition for a closed pipe, else `e`. */
  #failed(name: OutputName, e: unknown): unknown {
    if (!isClosedPipe(e)) return e;
    const closed = new OutputClosed(name, { cause: e });
    this.#closing.abort(closed);
    return closed;
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
