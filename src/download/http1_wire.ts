/**
 * The wire format of HTTP/1.1 responses as {@link Http1Client} reads them: the request line and
 * headers it writes, the response head it parses (at most 64 KiB), and the framings of a body —
 * `Content-Length`, `chunked`, or until the connection closes — each reading straight into the
 * caller's buffer.
 * @module
 */
import { VERSION } from "../version.ts";

/** Largest response head accepted. */
const MAX_HEAD_BYTES = 64 * 1024;
/** At most this much of a cancelled body is read off to keep its connection. */
const MAX_DRAIN_BYTES = 64 * 1024;

/** A plain or TLS connection. */
export type Conn = Deno.Conn | Deno.TlsConn;

/** A connection and the bytes already read from it beyond the last response. */
export interface Socket {
  conn: Conn;
  origin: string;
  leftover: Uint8Array;
}

/** The pooled connection was closed by the server before it answered (safe to retry on a new one). */
export class StaleConnection extends Error {}

/** A response head: status, headers, and how its body is framed. */
export interface ParsedHead {
  status: number;
  statusText: string;
  headers: Headers;
  keepAlive: boolean;
  chunked: boolean;
  /** null: the body ends when the connection closes. */
  contentLength: number | null;
}

const CRLF2 = [13, 10, 13, 10];

function indexOfHeadEnd(bytes: Uint8Array, from: number): number {
  for (let i = Math.max(0, from - 3); i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

/** Reads and parses the next response head; bytes after it stay in `socket.leftover`. */
export async function readHead(socket: Socket, url: URL): Promise<ParsedHead> {
  let buffer = new Uint8Array(16 * 1024);
  let length = 0;
  const append = (bytes: Uint8Array) => {
    if (length + bytes.length > buffer.length) {
      const bigger = new Uint8Array(Math.max(buffer.length * 2, length + bytes.length));
      bigger.set(buffer.subarray(0, length));
      buffer = bigger;
    }
    buffer.set(bytes, length);
    length += bytes.length;
  };
  append(socket.leftover);
  socket.leftover = new Uint8Array(0);
  let end = indexOfHeadEnd(buffer.subarray(0, length), 0);
  const chunk = new Uint8Array(16 * 1024);
  while (end < 0) {
    if (length > MAX_HEAD_BYTES) throw new TypeError(`${url.host} sent a response head over 64 KiB`);
    const n = await socket.conn.read(chunk).catch((e) => {
      if (length === 0) throw new StaleConnection(String(e));
      throw e;
    });
    if (n === null) {
      if (length === 0) throw new StaleConnection("closed");
      throw new TypeError(`${url.host} closed the connection in the middle of a response head`);
    }
    const before = length;
    append(chunk.subarray(0, n));
    end = indexOfHeadEnd(buffer.subarray(0, length), before);
  }
  if (end > MAX_HEAD_BYTES) throw new TypeError(`${url.host} sent a response head over 64 KiB`);
  socket.leftover = buffer.slice(end + CRLF2.length, length);
  return parseHead(new TextDecoder("latin1").decode(buffer.subarray(0, end)), url);
}

function parseHead(text: string, url: URL): ParsedHead {
  const [statusLine = "", ...lines] = text.split("\r\n");
  const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) {
    throw new TypeError(
      `${url.host} sent a malformed status line: ${JSON.stringify(statusLine.slice(0, 80))}`,
    );
  }
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new TypeError(`${url.host} sent a malformed header line`);
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const connection = headers.get("connection")?.toLowerCase() ?? "";
  const keepAlive = m[1] === "1" ? !connection.includes("close") : connection.includes("keep-alive");
  const chunked = /(^|,)\s*chunked\s*$/i.test(headers.get("transfer-encoding") ?? "");
  const lengthHeader = headers.get("content-length");
  let contentLength: number | null = null;
  if (!chunked && lengthHeader !== null) {
    if (!/^\d+$/.test(lengthHeader)) throw new TypeError(`${url.host} sent Content-Length "${lengthHeader}"`);
    contentLength = Number(lengthHeader);
  }
  return { status: Number(m[2]), statusText: m[3] ?? "", headers, keepAlive, chunked, contentLength };
}

/** Reads body bytes into `view`; null at the end of the body. */
interface Framing {
  read(socket: Socket, view: Uint8Array): Promise<number | null>;
  /** The connection is positioned at the next response once the body ended. */
  readonly reusable: boolean;
}

/** Reads from what is left over first, then from the socket. */
function readSome(socket: Socket, view: Uint8Array): Promise<number | null> {
  if (socket.leftover.length > 0) {
    const n = Math.min(view.length, socket.leftover.length);
    view.set(socket.leftover.subarray(0, n));
    socket.leftover = socket.leftover.subarray(n);
    return Promise.resolve(n);
  }
  return socket.conn.read(view);
}

/** A body of `Content-Length` bytes, or (length null) up to the connection closing. */
export class LengthFraming implements Framing {
  #remaining: number | null;
  constructor(length: number | null) {
    this.#remaining = length;
  }
  get reusable(): boolean {
    return this.#remaining === 0;
  }
  /** Little enough is left to read it off rather than lose the connection. */
  get drainable(): boolean {
    return this.#remaining !== null && this.#remaining <= MAX_DRAIN_BYTES;
  }
  /** One promise per read (the socket's own): it runs 65,536 times per GiB of a TLS body. */
  read(socket: Socket, view: Uint8Array): Promise<number | null> {
    if (this.#remaining === 0) return Promise.resolve(null);
    const limit = this.#remaining === null ? view.length : Math.min(view.length, this.#remaining);
    return readSome(socket, limit === view.length ? view : view.subarray(0, limit)).then(this.#counted);
  }
  readonly #counted = (n: number | null): number | null => {
    if (n === null) {
      if (this.#remaining === null) return null;
      throw new TypeError(`connection closed with ${this.#remaining} bytes of the body still to come`);
    }
    if (this.#remaining !== null) this.#remaining -= n;
    return n;
  };
}

/** `Transfer-Encoding: chunked`: chunk sizes are parsed, chunk data read straight into the view. */
export class ChunkedFraming implements Framing {
  /** Bytes left in the current chunk; 0 between chunks. */
  #inChunk = 0;
  #ended = false;
  get reusable(): boolean {
    return this.#ended;
  }
  async read(socket: Socket, view: Uint8Array): Promise<number | null> {
    if (this.#ended) return null;
    if (this.#inChunk === 0) {
      const size = await this.#chunkSize(socket);
      if (size === 0) {
        // Trailers, up to the empty line.
        while ((await readLine(socket)) !== "");
        this.#ended = true;
        return null;
      }
      this.#inChunk = size;
    }
    const n = await readSome(socket, view.subarray(0, Math.min(view.length, this.#inChunk)));
    if (n === null) throw new TypeError("connection closed in the middle of a chunk");
    this.#inChunk -= n;
    if (this.#inChunk === 0 && (await readLine(socket)) !== "") throw new TypeError("malformed chunk ending");
    return n;
  }
  async #chunkSize(socket: Socket): Promise<number> {
    const line = await readLine(socket);
    const m = /^([0-9a-fA-F]{1,12})(?:;.*)?$/.exec(line);
    if (!m) throw new TypeError(`malformed chunk size line ${JSON.stringify(line.slice(0, 40))}`);
    return parseInt(m[1]!, 16);
  }
}

/** One CRLF-terminated line (at most 8 KiB), without the CRLF. */
async function readLine(socket: Socket): Promise<string> {
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  while (bytes.length <= 8192) {
    const n = await readSome(socket, one);
    if (n === null) throw new TypeError("connection closed in the middle of a line");
    if (one[0] === 10 && bytes.at(-1) === 13) return String.fromCharCode(...bytes.slice(0, -1));
    bytes.push(one[0]!);
  }
  throw new TypeError("line too long in a chunked body");
}

/** The `GET` request head; header names and values are checked (no CR/LF injection). */
export function encodeRequest(url: URL, headers: Record<string, string>): Uint8Array {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`];
  const given = new Set(Object.keys(headers).map((k) => k.toLowerCase()));
  if (!given.has("user-agent")) lines.push(`user-agent: lode/${VERSION}`);
  if (!given.has("accept")) lines.push("accept: */*");
  lines.push("accept-encoding: identity");
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === "host" || name.toLowerCase() === "accept-encoding") continue;
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(value)) {
      throw new TypeError(`invalid request header ${JSON.stringify(name)}`);
    }
    lines.push(`${name}: ${value}`);
  }
  return new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
}

/** Writes every byte; a failure means the connection was stale. */
export async function writeAll(conn: Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written)).catch((e) => {
      throw new StaleConnection(String(e));
    });
  }
}
