/**
 * Why a llama.cpp load failed, in words a user can act on: the tail of
 * llama.cpp's warning and error lines ({@link LlamaLogTail}) and the
 * `MODEL_LOAD_FAILED` error made from it ({@link loadFailedError}).
 *
 * @example
 * ```ts
 * import { LlamaLogTail, loadFailedError } from "./llama_cpp_load_error.ts";
 * const tail = new LlamaLogTail();
 * const mark = tail.mark();
 * tail.record("error", "llama_model_load: error loading model: tensor 'x' is corrupted");
 * loadFailedError("m.gguf", new Error("failed"), tail.since(mark)).message; // "… m.gguf: tensor 'x' is corrupted"
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";

/** How many llama.cpp warning/error lines are kept to explain a failure. */
const LOG_TAIL = 20;

/**
 * The last llama.cpp warning/error lines, and how many were ever recorded (a mark taken before a load
 * gives the lines that load logged).
 *
 * @example
 * ```ts
 * const tail = new LlamaLogTail();
 * const mark = tail.mark();
 * tail.record("warn", "something odd");
 * tail.since(mark); // ["something odd"]
 * ```
 */
export class LlamaLogTail {
  readonly #lines: string[] = [];
  #count = 0;

  /** Keeps `line` when `level` is a warning or worse. */
  record(level: string, line: string): void {
    if (level !== "error" && level !== "fatal" && level !== "warn") return;
    this.#lines.push(line);
    if (this.#lines.length > LOG_TAIL) this.#lines.shift();
    this.#count++;
  }

  /** A mark for {@link since}. */
  mark(): number {
    return this.#count;
  }

  /** The lines recorded since `mark` that are still kept. */
  since(mark: number): string[] {
    const count = Math.min(this.#lines.length, this.#count - mark);
    return count > 0 ? this.#lines.slice(this.#lines.length - count) : [];
  }
}

/**
 * A `MODEL_LOAD_FAILED` error whose message is llama.cpp's own explanation when `llamaLog` has one,
 * else node-llama-cpp's error in plain words.
 *
 * @example
 * ```ts
 * loadFailedError("notes.gguf", new Error("Invalid GGUF magic"), []).message;
 * // "could not load a model from notes.gguf: not a GGUF file (Invalid GGUF magic)"
 * ```
 */
export function loadFailedError(
  path: string,
  cause: unknown,
  llamaLog: string[],
  what = `could not load a model from ${path}`,
): LodeError {
  const logged = llamaLog.find((l) => !/failed to load model/i.test(l));
  const reason = logged !== undefined ? stripPrefix(logged) : explain(cause);
  return new LodeError("MODEL_LOAD_FAILED", `${what}: ${reason}`, {
    details: { path, reason: errorMessage(cause), llama_log: llamaLog },
    cause,
  });
}

/**
 * The message of `e` (an Error's, else its string).
 *
 * @example
 * ```ts
 * errorMessage(new Error("boom")); // "boom"
 * ```
 */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** `llama_model_load: error loading model: X` → `X`. */
function stripPrefix(line: string): string {
  return line.replace(/^[a-z_]+: (error loading model: )?/, "");
}

/** node-llama-cpp's own errors, in words a user can act on. */
function explain(cause: unknown): string {
  const message = errorMessage(cause);
  if (
    cause instanceof Error &&
    (cause.constructor.name === "InvalidGgufMagicError" || /GGUF magic/.test(message))
  ) {
    return `not a GGUF file (${message})`;
  }
  // The GGUF reader trips over a cut-off or damaged header with a TypeError or RangeError.
  if (cause instanceof TypeError || cause instanceof RangeError) {
    return `the GGUF header could not be read; the file is truncated or corrupt (${message})`;
  }
  return message;
}
