/**
 * A runner's stdout and stderr (its log), line by line: each line passed to a listener, the last
 * {@link STDERR_TAIL} kept to explain a crash.
 *
 * @example
 * ```ts
 * import { ProcessLog } from "./runner_log.ts";
 * const log = new ProcessLog((line) => console.log(line));
 * log.line("llama.cpp: loaded");
 * log.tail(); // ["llama.cpp: loaded"]
 * ```
 * @module
 */

/** Lines of the runner's output kept to explain a crash. */
export const STDERR_TAIL = 20;

/** The runner's stdout and stderr, line by line: passed to `onLog`, the last lines kept. */
export class ProcessLog {
  readonly #lines: string[] = [];
  readonly #onLog: (line: string) => void;
  readonly #streams: Promise<void>[] = [];

  constructor(onLog: ((line: string) => void) | undefined) {
    this.#onLog = onLog ?? (() => {});
  }

  /** Settles when every followed stream has ended. */
  get done(): Promise<void> {
    return Promise.all(this.#streams).then(() => {});
  }

  follow(stream: ReadableStream<Uint8Array>): void {
    this.#streams.push((async () => {
      let partial = "";
      try {
        for await (const text of stream.pipeThrough(new TextDecoderStream())) {
          const lines = (partial + text).split("\n");
          partial = lines.pop()!;
          for (const line of lines) this.line(line);
        }
      } catch { /* the pipe broke: the process is gone */ }
      if (partial !== "") this.line(partial);
    })());
  }

  line(line: string): void {
    if (line.trim() === "") return;
    this.#lines.push(line);
    if (this.#lines.length > STDERR_TAIL) this.#lines.shift();
    try {
      this.#onLog(line);
    } catch { /* a logger's failure changes nothing */ }
  }

  tail(): string[] {
    return [...this.#lines];
  }
}
