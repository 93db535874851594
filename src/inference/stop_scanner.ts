/**
 * Stop strings matched on the generated text, not on tokens: a stop string
 * may span several tokens and tokenize differently in context (SentencePiece
 * spells " the park" unlike "the park" on its own), so matching the
 * triggers' own tokens misses it. The scanner holds back the end of the text
 * that could still become a stop string, releases the rest, and reports the
 * text before the first stop string once one appears (the stop string itself
 * is never released). Backend-independent: any backend can stream through it.
 *
 * @example
 * ```ts
 * import { StopScanner } from "./stop_scanner.ts";
 * const scanner = new StopScanner(["the park"]);
 * scanner.push("in the pa"); // { text: "in ", stopped: false } ("the pa" is held back)
 * scanner.push("rk. One");   // { text: "", stopped: true }
 * ```
 * @module
 */

/** What {@link StopScanner.push} releases. */
export interface ScanStep {
  /** Text that is certainly not part of a stop string: emit it. */
  text: string;
  /** True once a stop string appeared: end the generation; nothing more will be released. */
  stopped: boolean;
}

/**
 * Incremental stop-string matcher over a stream of text chunks.
 *
 * @example
 * ```ts
 * import { StopScanner } from "./stop_scanner.ts";
 * const scanner = new StopScanner(["\n\n"]);
 * let out = scanner.push("Hello\n").text; // "Hello"
 * out += scanner.flush(); // "\n" (the stream ended without the stop string)
 * ```
 */
export class StopScanner {
  readonly #stops: readonly string[];
  #held = "";
  #stopped = false;

  constructor(stops: readonly string[]) {
    if (stops.some((s) => s === "")) throw new RangeError("stop strings must not be empty");
    this.#stops = stops;
  }

  /** True once a stop string was seen. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Adds a chunk of generated text; returns what may be emitted now. */
  push(chunk: string): ScanStep {
    if (this.#stopped) return { text: "", stopped: true };
    if (this.#stops.length === 0) return { text: chunk, stopped: false };
    const held = this.#held + chunk;
    let first = -1;
    for (const stop of this.#stops) {
      const at = held.indexOf(stop);
      if (at !== -1 && (first === -1 || at < first)) first = at;
    }
    if (first !== -1) {
      this.#stopped = true;
      this.#held = "";
      return { text: held.slice(0, first), stopped: true };
    }
    const keep = this.#longestPrefixSuffix(held);
    this.#held = held.slice(held.length - keep);
    return { text: held.slice(0, held.length - keep), stopped: false };
  }

  /** The held-back text, at the end of a generation that did not stop on a stop string. */
  flush(): string {
    const rest = this.#stopped ? "" : this.#held;
    this.#held = "";
    return rest;
  }

  /** Length of the longest end of `text` that is the start of some stop string (shorter than it). */
  #longestPrefixSuffix(text: string): number {
    let best = 0;
    for (const stop of this.#stops) {
      for (let n = Math.min(stop.length - 1, text.length); n > best; n--) {
        if (text.endsWith(stop.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
