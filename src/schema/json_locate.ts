/**
 * Where things are in a JSON text, so an error can name a line: the line of
 * a syntax error from `JSON.parse`'s message, and the line of the value at a
 * path (`["models", 0, "files", 0, "sha256"]`) found by a small scanner.
 *
 * @example
 * ```ts
 * lineOfPath('{\n  "a": [1,\n 2]\n}', ["a", 1]); // 3
 * ```
 * @module
 */

/** 1-based line of character offset `offset` in `text`. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < Math.min(offset, text.length); i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * The 1-based line of the first syntax error in `text`, or null when it parses. V8 gives a position only
 * for some errors ("Unexpected token 'x'" has none), so the shortest prefix that already fails is found
 * by bisection: a prefix before the error is at worst incomplete.
 */
export function lineOfSyntaxError(text: string): number | null {
  const failsWithin = (end: number): boolean => {
    try {
      JSON.parse(text.slice(0, end));
      return false;
    } catch (e) {
      const message = (e as Error).message;
      if (/end of JSON input/.test(message)) return false;
      const position = /position (\d+)/.exec(message);
      return !(position && Number(position[1]) >= end);
    }
  };
  try {
    JSON.parse(text);
    return null;
  } catch {
    // An error at the very end (a text cut short) is not found by bisection: it is on the last line.
    if (!failsWithin(text.length)) return lineAt(text, text.trimEnd().length);
  }
  let lo = 0; // prefix of length lo does not fail
  let hi = text.length; // prefix of length hi fails
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (failsWithin(mid)) hi = mid;
    else lo = mid;
  }
  return lineAt(text, hi - 1);
}

/**
 * The 1-based line where the value at `path` starts in the JSON `text` (the deepest part of the path
 * that exists: a missing field is reported at its object). Null when `text` is not JSON.
 */
export function lineOfPath(text: string, path: readonly (string | number)[]): number | null {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const string = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i));
  };
  // Skips one value starting at i (after whitespace).
  const skip = (): void => {
    ws();
    const c = text[i];
    if (c === '"') return void string();
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      ws();
      if (text[i] === close) return void i++;
      for (;;) {
        if (c === "{") {
          ws();
          string();
          ws();
          i++; // colon
        }
        skip();
        ws();
        if (text[i++] !== ",") return;
      }
    }
    while (i < text.length && !/[\s,\]}]/.test(text[i]!)) i++;
  };
  try {
    ws();
    let found = i;
    for (const part of path) {
      const c = text[i];
      if (c !== "{" && c !== "[") break;
      i++;
      ws();
      let hit = false;
      for (let index = 0; text[i] !== "}" && text[i] !== "]" && i < text.length; index++) {
        let key: string | number = index;
        if (c === "{") {
          key = string();
          ws();
          i++;
          ws();
        }
        if (key === part) {
          hit = true;
          break;
        }
        skip();
        ws();
        if (text[i] === ",") i++;
        ws();
      }
      if (!hit) break;
      ws();
      found = i;
    }
    return lineAt(text, found);
  } catch {
    return null;
  }
}
