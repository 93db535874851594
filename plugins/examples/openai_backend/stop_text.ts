/**
 * Stop strings applied on this side of the API: the server is asked for plain text, and the text is cut
 * where the first stop string begins. OpenAI's `finish_reason: "stop"` means both "end of text" and "a
 * stop string", so a server-side stop could not be told from an end of text; here it can.
 *
 * Text that may be the start of a stop string is held back until the next chunk says it is not.
 *
 * @example
 * ```ts
 * import { StopText } from "./stop_text.ts";
 * const stops = new StopText([", she"]);
 * stops.push("Once, s"); // "Once" (", s" held back)
 * stops.push("he ran"); // "" and stops.stopped === true
 * ```
 * @module
 */

/** Feeds chunks, gives back what may be shown; `stopped` once a stop string appeared. */
export class StopText {
  readonly #stops: string[];
  #text = "";
  #shown = 0;
  stopped = false;

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s !== "");
  }

  /** All the text that was shown. */
  get text(): string {
    return this.#text.slice(0, this.#shown);
  }

  /** Adds a chunk; returns the text that can now be shown (possibly ""). */
  push(chunk: string): string {
    if (this.stopped) return "";
    this.#text += chunk;
    let cut = -1;
    for (const stop of this.#stops) {
      const at = this.#text.indexOf(stop, Math.max(0, this.#shown - stop.length + 1));
      if (at !== -1 && (cut === -1 || at < cut)) cut = at;
    }
    if (cut !== -1) {
      this.stopped = true;
      return this.#show(cut);
    }
    let safe = this.#text.length;
    for (const stop of this.#stops) {
      for (let k = Math.min(stop.length - 1, this.#text.length); k > 0; k--) {
        if (this.#text.endsWith(stop.slice(0, k))) {
          safe = Math.min(safe, this.#text.length - k);
          break;
        }
      }
    }
    return this.#show(safe);
  }

  /** The end of the text: what was held back, now shown. */
  end(): string {
    return this.stopped ? "" : this.#show(this.#text.length);
  }

  #show(upTo: number): string {
    const out = this.#text.slice(this.#shown, Math.max(upTo, this.#shown));
    this.#shown = Math.max(upTo, this.#shown);
    return out;
  }
}
