/**
 * The conversation behind `lode chat`, without the terminal: it reads lines,
 * keeps the history, sends the whole history through `Session.chat` for each
 * user message, and handles the slash commands and Ctrl-C. `chat.ts` wires it
 * to stdin/stdout and SIGINT; tests drive it with a fake session.
 *
 * Rules (also in `lode chat --help` and docs/running.md):
 * - `/reset` clears the history (the `--system` message stays), `/exit` (or
 *   `/quit`, or the end of input: Ctrl-D) ends the chat, `/help` lists these.
 * - Ctrl-C while an answer streams stops that answer only. The partial answer
 *   stays in the history, because it is what the user saw and may refer to; an
 *   answer stopped before its first token is dropped together with its question.
 * - Ctrl-C at the prompt does not quit: it prints how to quit, and a second
 *   Ctrl-C in a row (no line typed in between) ends the chat.
 * - On a terminal, a message that makes the conversation longer than the
 *   context is refused with a note and dropped; the chat goes on. With
 *   piped input the refusal (`CONTEXT_LENGTH_EXCEEDED`, exit 2) ends it.
 * @module
 */
import { isLodeError } from "../errors.ts";
import type { ChatMessage, GenerateOptions, GenerateResult, Session } from "../inference/backend.ts";
import type { DoneEvent, TokenEvent } from "../events/inference_event.ts";
import type { LineReader } from "./line_reader.ts";

/**
 * Where a {@link ChatLoop} reads and writes.
 *
 * @example
 * ```ts
 * import type { ChatIo } from "./chat_loop.ts";
 * const lines = ["Hi", "/exit"];
 * const io: ChatIo = {
 *   readLine: () => Promise.resolve(lines.shift() ?? null),
 *   answer: (t) => console.log(t),
 *   note: (t) => console.error(t),
 *   prompt: () => {},
 *   event: () => {},
 *   json: false,
 * };
 * ```
 */
export interface ChatIo {
  readLine: LineReader;
  /** Answer text (stdout). */
  answer(text: string): void;
  /** Notes for the user (stderr; silent with --quiet / --json). */
  note(line: string): void;
  /** Shows the prompt marker (only on a terminal; a no-op for piped input). */
  prompt(): void;
  /** An answer's event (published on the command's stream; the NDJSON line with --json). */
  event(event: TokenEvent | DoneEvent): void;
  /** With --json answers go out as events only (no answer text). */
  json: boolean;
}

/**
 * Options of {@link ChatLoop}.
 *
 * @example
 * ```ts
 * import type { ChatLoopOptions } from "./chat_loop.ts";
 * const partial: Omit<ChatLoopOptions, "io"> = { generate: { maxTokens: 256 }, system: "Be brief." };
 * ```
 */
export interface ChatLoopOptions {
  io: ChatIo;
  /** Sampling and limits of every answer (no signal: the loop brings its own). */
  generate: GenerateOptions;
  /** The first message of every conversation, kept across `/reset`. */
  system?: string;
  /** Called after each answer (for `--verbose`). */
  onResult?: (result: GenerateResult) => void;
  /**
   * A person types the lines (a terminal): a message that makes the conversation too long for the
   * context (`CONTEXT_LENGTH_EXCEEDED`) is then reported and dropped and the chat goes on. Otherwise
   * that error ends {@link ChatLoop.run}, as every other does.
   */
  interactive?: boolean;
}

const INTERRUPTED = Symbol("interrupted");

/**
 * The help of the slash commands and keys.
 *
 * @example
 * ```ts
 * import { CHAT_HELP } from "./chat_loop.ts";
 * console.error(CHAT_HELP);
 * ```
 */
export const CHAT_HELP =
  "/reset clears the history, /exit (or Ctrl-D) quits, Ctrl-C stops an answer (twice at the prompt: quits)";

/**
 * A chat over one session.
 */
export class ChatLoop {
  readonly #session: Pick<Session, "chat">;
  readonly #options: ChatLoopOptions;
  #history: ChatMessage[] = [];
  /** The running answer's controller; null at the prompt. */
  #answering: AbortController | null = null;
  /** A Ctrl-C at the prompt happened and no line was read since. */
  #armed = false;
  #exit: () => void = () => {};
  readonly #exitRequested = new Promise<typeof INTERRUPTED>((
    resolve,
  ) => (this.#exit = () => resolve(INTERRUPTED)));

  constructor(session: Pick<Session, "chat">, options: ChatLoopOptions) {
    this.#session = session;
    this.#options = options;
  }

  /** The conversation so far (without the system message). */
  get history(): readonly ChatMessage[] {
    return this.#history;
  }

  /**
   * Handles a Ctrl-C: stops the running answer, or at the prompt prints how
   * to quit (the second one in a row ends {@link run}).
   */
  interrupt(): void {
    if (this.#answering !== null) {
      this.#answering.abort(new DOMException("Ctrl-C", "AbortError"));
      return;
    }
    if (this.#armed) {
      this.#options.io.note("");
      this.#exit();
      return;
    }
    this.#armed = true;
    this.#options.io.note("\n(Ctrl-C again, /exit or Ctrl-D to quit)");
    this.#options.io.prompt();
  }

  /**
   * Reads and answers lines until `/exit` (returns `"exit"`), the end of
   * input (`"eof"`) or a second Ctrl-C at the prompt (`"interrupt"`).
   */
  async run(): Promise<"exit" | "eof" | "interrupt"> {
    const { io } = this.#options;
    while (true) {
      io.prompt();
      const line = await Promise.race([io.readLine(), this.#exitRequested]);
      if (line === INTERRUPTED) return "interrupt";
      if (line === null) return "eof";
      this.#armed = false;
      const text = line.trim();
      if (text === "") continue;
      if (text.startsWith("/")) {
        if (this.#command(text)) return "exit";
        continue;
      }
      try {
        await this.send(text);
      } catch (e) {
        if (!(this.#options.interactive && isLodeError(e, "CONTEXT_LENGTH_EXCEEDED"))) throw e;
        io.note(
          `${e.message}. The message was dropped: send a shorter one, /reset, or use a larger --ctx-size.`,
        );
      }
    }
  }

  /** Sends one user message with the whole history and streams the answer; returns its result. */
  async send(text: string): Promise<GenerateResult> {
    const { io, generate, system } = this.#options;
    const question: ChatMessage = { role: "user", content: text };
    const messages: ChatMessage[] = [
      ...(system !== undefined ? [{ role: "system" as const, content: system }] : []),
      ...this.#history,
      question,
    ];
    const controller = new AbortController();
    this.#answering = controller;
    let result: GenerateResult;
    try {
      const generation = this.#session.chat(messages, { ...generate, signal: controller.signal });
      for await (const chunk of generation) {
        io.event({ event: "token", text: chunk });
        if (!io.json) io.answer(chunk);
      }
      result = await generation.result;
    } finally {
      this.#answering = null;
    }
    io.event({ event: "done", stop_reason: result.stopReason, usage: result.usage });
    if (!io.json) io.answer("\n");
    if (result.stopReason !== "abort" || result.text !== "") {
      this.#history.push(question, { role: "assistant", content: result.text });
    }
    if (result.stopReason === "abort") {
      io.note(
        result.text === "" ? "(stopped; the question was dropped)" : "(answer stopped; kept in the history)",
      );
    } else if (result.stopReason === "context_full") {
      io.note("(the conversation fills the context: /reset to start over, or a larger --ctx-size)");
    }
    this.#options.onResult?.(result);
    return result;
  }

  /** Runs a slash command; true when the chat should end. */
  #command(text: string): boolean {
    const { io } = this.#options;
    const name = text.split(/\s+/, 1)[0]!.toLowerCase();
    switch (name) {
      case "/exit":
      case "/quit":
      case "/bye":
        return true;
      case "/reset":
      case "/clear":
        this.#history = [];
        io.note("(history cleared)");
        return false;
      case "/help":
      case "/?":
        io.note(CHAT_HELP);
        return false;
      default:
        io.note(`unknown command ${name}: ${CHAT_HELP}`);
        return false;
    }
  }
}
