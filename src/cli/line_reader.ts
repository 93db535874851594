/**
 * Reads text lines one at a time from a byte stream (stdin): the next line
 * is returned as soon as its newline arrives, so an interactive session
 * answers each line while the user types the next. A `\r\n` ending counts as
 * `\n`; the last line needs no newline.
 *
 * @example
 * ```ts
 * import { createLineReader } from "./line_reader.ts";
 * const next = createLineReader(Deno.stdin.readable);
 * for (let line = await next(); line !== null; line = await next()) console.log(line.length);
 * ```
 * @module
 */

/**
 * A function returning the next line (without its line ending), or null at
 * the end of the stream. Calls must not overlap.
 *
 * @example
 * ```ts
 * import type { LineReader } from "./line_reader.ts";
 * async function first(read: LineReader): Promise<string> { return (await read()) ?? ""; }
 * ```
 */
export type LineReader = () => Promise<string | null>;

/**
 * A {@link LineReader} over `stream` (UTF-8).
 *
 * @example
 * ```ts
 * import { createLineReader } from "./line_reader.ts";
 * const read = createLineReader(ReadableStream.from([new TextEncoder().encode("a\nb")]));
 * await read(); // "a"
 * await read(); // "b"
 * await read(); // null
 * ```
 */
export function createLineReader(stream: ReadableStream<Uint8Array>): LineReader {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let ended = false;
  return async () => {
    while (true) {
      const newline = buffer.indexOf("\n");
      if (newline !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        return line.endsWith("\r") ? line.slice(0, -1) : line;
      }
      if (ended) {
        if (buffer === "") return null;
        const last = buffer;
        buffer = "";
        return last;
      }
      const { value, done } = await reader.read();
      if (done) ended = true;
      else buffer += value;
    }
  };
}

/**
 * Every line of `stream` (for commands that read all of stdin).
 *
 * @example
 * ```ts
 * import { readAllLines } from "./line_reader.ts";
 * const texts = (await readAllLines(Deno.stdin.readable)).filter((l) => l.trim() !== "");
 * ```
 */
export async function readAllLines(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const read = createLineReader(stream);
  const lines: string[] = [];
  for (let line = await read(); line !== null; line = await read()) lines.push(line);
  return lines;
}
