/**
 * The HTTP/1.1 wire pieces of the test origin: parsing a request head, parsing a single `Range`
 * header, and writing a response head. Pure functions, no I/O.
 *
 * @module
 */

/** A parsed HTTP/1.1 request head. Header names are lower-cased; repeated headers are joined by ", ". */
export interface RequestHead {
  method: string;
  /** Request target as sent (path plus optional query). */
  target: string;
  version: string;
  headers: Record<string, string>;
}

/** A single byte range, inclusive on both ends, already clamped to the resource size. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Reason phrases for the statuses the origin commonly sends. */
const REASONS: Record<number, string> = {
  200: "OK",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  416: "Range Not Satisfiable",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

/**
 * Returns the index just past the `\r\n\r\n` ending a request head in `buf[0..len)`, or -1.
 *
 * @example
 * ```ts
 * import { findHeadEnd } from "./http_wire.ts";
 *
 * const b = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\nrest");
 * findHeadEnd(b, b.length); // 18
 * ```
 */
export function findHeadEnd(buf: Uint8Array, len: number): number {
  for (let i = 3; i < len; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) return i + 1;
  }
  return -1;
}

/**
 * Parses a request head (request line and header lines, without the final blank line is fine).
 * Returns `undefined` when the request line is malformed.
 *
 * @example
 * ```ts
 * import { parseRequestHead } from "./http_wire.ts";
 *
 * const head = parseRequestHead("GET /a?b HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n");
 * head?.headers["range"]; // "bytes=0-9"
 * ```
 */
export function parseRequestHead(text: string): RequestHead | undefined {
  const lines = text.split("\r\n");
  const parts = (lines[0] ?? "").split(" ");
  if (parts.length !== 3) return undefined;
  const [method, target, version] = parts as [string, string, string];
  if (!/^[A-Z]+$/.test(method) || !target || !/^HTTP\/1\.[01]$/.test(version)) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { method, target, version, headers };
}

/**
 * Parses a `Range` header against a resource of `size` bytes. Only a single `bytes=` range is
 * supported (`a-b`, `a-`, `-n`); anything else (absent, malformed, several ranges) gives `"none"`,
 * meaning "serve the whole resource". A well-formed range that selects nothing gives `"unsatisfiable"`.
 *
 * @example
 * ```ts
 * import { parseRange } from "./http_wire.ts";
 *
 * parseRange("bytes=10-19", 100); // { start: 10, end: 19 }
 * parseRange("bytes=-5", 100); // { start: 95, end: 99 }
 * parseRange("bytes=100-", 100); // "unsatisfiable"
 * ```
 */
export function parseRange(header: string | undefined, size: number): ByteRange | "none" | "unsatisfiable" {
  if (header === undefined) return "none";
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return "none";
  const [, a = "", b = ""] = m;
  if (a === "" && b === "") return "none";
  if (a === "") {
    const n = Number(b);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (b !== "" && Number(b) < start) return "none";
  if (start >= size) return "unsatisfiable";
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  return { start, end };
}

/**
 * Serialises a response status line and headers (ending with the blank line).
 *
 * @example
 * ```ts
 * import { responseHead } from "./http_wire.ts";
 *
 * responseHead(404, { "content-length": "0" }); // "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
 * ```
 */
export function responseHead(status: number, headers: Record<string, string>): string {
  let s = `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}\r\n`;
  for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
  return s + "\r\n";
}
