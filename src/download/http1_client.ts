/**
 * A small HTTP/1.1 client on `Deno.connectTls` / `Deno.connect`, for the bytes
 * of a download. Why not `fetch`: a `fetch` body arrives in 16 KiB pieces,
 * one op each, and drains at about half the speed of reading the same
 * response from a TLS connection into 1–4 MiB buffers, which is as fast as
 * curl (docs/benchmarks.md). This client answers with
 * a standard `Response` whose body is a byte stream that reads the socket
 * straight into the caller's BYOB buffer, so everything downstream is the same
 * code as with `fetch`.
 *
 * It speaks only what a download needs: `GET` with headers, responses framed
 * by `Content-Length`, `chunked`, or the connection closing; keep-alive
 * connections reused per origin once a body has been read to its end. Errors
 * look like `fetch`'s: a `TypeError` for the network or TLS (mapped to typed
 * errors by `transportError`), the signal's reason when aborted. Proxies are not
 * its business: {@link createHttpClients} sends proxied requests with `fetch`.
 * @module
 */
import {
  ChunkedFraming,
  type Conn,
  encodeRequest,
  LengthFraming,
  type ParsedHead,
  readHead,
  type Socket,
  StaleConnection,
  writeAll,
} from "./http1_wire.ts";

/** Idle connections kept per origin. */
const MAX_IDLE_PER_ORIGIN = 16;
/** Chunk size for readers that do not bring their own buffer. */
const AUTO_CHUNK_BYTES = 64 * 1024;
const DRAIN_TIMEOUT_MS = 1000;
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** Options of {@link Http1Client}. */
export interface Http1ClientOptions {
  /** Extra trusted CA certificates (PEM). */
  caCerts?: string[];
}

/** What {@link Http1Client.request} sends. */
export interface Http1RequestInit {
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** GET over HTTP/1.1 with per-origin keep-alive; see the module docs. */
export class Http1Client {
  readonly #caCerts: string[] | undefined;
  readonly #idle = new Map<string, Socket[]>();
  readonly #open = new Set<Conn>();
  #closed = false;

  constructor(options: Http1ClientOptions = {}) {
    this.#caCerts = options.caCerts?.length ? options.caCerts : undefined;
  }

  /** Sends `GET url` and resolves once the response head has arrived. */
  async request(url: URL, init: Http1RequestInit = {}): Promise<Response> {
    if (this.#closed) throw new TypeError("Http1Client: request() after close()");
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new TypeError(`unsupported protocol ${url.protocol}`);
    }
    const { signal } = init;
    signal?.throwIfAborted();
    const head = encodeRequest(url, init.headers ?? {});
    // A pooled connection the server has closed meanwhile fails before any byte of an answer: retry
    // once on a new connection (a GET is safe to repeat).
    const pooled = this.#takeIdle(url.origin);
    if (pooled) {
      try {
        return await this.#exchange(pooled, head, url, signal);
      } catch (e) {
        if (signal?.aborted || !(e instanceof StaleConnection)) throw e;
      }
    }
    const socket = await this.#connect(url, signal);
    try {
      return await this.#exchange(socket, head, url, signal);
    } catch (e) {
      if (e instanceof StaleConnection) {
        throw new TypeError(`connection to ${url.host} closed before an answer`);
      }
      throw e;
    }
  }

  /** Closes every connection, idle or in use. */
  close(): void {
    this.#closed = true;
    for (const conn of this.#open) closeQuietly(conn);
    this.#open.clear();
    this.#idle.clear();
  }

  #takeIdle(origin: string): Socket | undefined {
    const list = this.#idle.get(origin);
    const socket = list?.pop();
    if (list?.length === 0) this.#idle.delete(origin);
    return socket;
  }

  #release(socket: Socket): void {
    if (this.#closed) return this.#discard(socket.conn);
    const list = this.#idle.get(socket.origin) ?? [];
    if (list.length >= MAX_IDLE_PER_ORIGIN) return this.#discard(socket.conn);
    list.push(socket);
    this.#idle.set(socket.origin, list);
  }

  #discard(conn: Conn): void {
    this.#open.delete(conn);
    closeQuietly(conn);
  }

  async #connect(url: URL, signal: AbortSignal | undefined): Promise<Socket> {
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    let conn: Conn | undefined;
    try {
      // TCP_NODELAY before TLS: `Deno.connectTls` leaves Nagle's algorithm on, and the handshake's last
      // small write then waits for the server's delayed ACK (docs/benchmarks.md).
      const tcp = conn = await abortable(Deno.connect({ hostname, port }), signal);
      this.#open.add(tcp);
      tcp.setNoDelay(true);
      if (url.protocol === "https:") {
        this.#open.delete(tcp);
        const tls = conn = await Deno.startTls(tcp, { hostname, caCerts: this.#caCerts });
        this.#open.add(tls);
        await withAbort(tls.handshake(), signal, tls);
      }
      return { conn, origin: url.origin, leftover: new Uint8Array(0) };
    } catch (e) {
      // A connection whose handshake failed (an untrusted certificate) is not left open.
      if (conn) this.#discard(conn);
      if (signal?.aborted) throw signal.reason;
      throw new TypeError(`error sending request for url (${url.href}): ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  async #exchange(
    socket: Socket,
    head: Uint8Array,
    url: URL,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const { conn } = socket;
    const onAbort = () => this.#discard(conn);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await writeAll(conn, head);
      let parsed: ParsedHead;
      do parsed = await readHead(socket, url); while (parsed.status >= 100 && parsed.status < 200);
      const body = NULL_BODY_STATUS.has(parsed.status) ? null : this.#body(socket, parsed, signal, onAbort);
      if (body === null) {
        signal?.removeEventListener("abort", onAbort);
        if (parsed.keepAlive) this.#release(socket);
        else this.#discard(conn);
      }
      return new Response(body, {
        status: parsed.status,
        statusText: parsed.statusText,
        headers: parsed.headers,
      });
    } catch (e) {
      signal?.removeEventListener("abort", onAbort);
      this.#discard(conn);
      if (signal?.aborted) throw signal.reason;
      if (e instanceof StaleConnection || e instanceof TypeError) throw e;
      throw new TypeError(`error reading a response from ${url.host}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The body as a byte stream that reads the socket into the reader's own buffer. */
  #body(
    socket: Socket,
    head: ParsedHead,
    signal: AbortSignal | undefined,
    onAbort: () => void,
  ): ReadableStream<Uint8Array> {
    const framing = head.chunked ? new ChunkedFraming() : new LengthFraming(head.contentLength);
    let finished = false;
    const finish = (reusable: boolean) => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener("abort", onAbort);
      if (reusable && head.keepAlive && framing.reusable) this.#release(socket);
      else this.#discard(socket.conn);
    };
    const ended = (n: number | null) => {
      if (n === null) finish(true);
      return n;
    };
    const failed = (e: unknown): never => {
      finish(false);
      throw signal?.aborted ? signal.reason : asTypeError(e);
    };
    const direct: DirectBody = {
      read: (view) => {
        let reading: Promise<number | null>;
        try {
          reading = framing.read(socket, view);
        } catch (e) {
          reading = Promise.reject(e);
        }
        return reading.then(ended, failed);
      },
      // A short rest (an error page, the rest of a one-byte probe) is read off so the connection can be
      // reused; otherwise the connection is closed.
      cancel: async () => {
        if (finished) return;
        if (!(framing instanceof LengthFraming) || !framing.drainable) return finish(false);
        // A server that stops sending loses the connection after a second.
        const timer = setTimeout(() => finish(false), DRAIN_TIMEOUT_MS);
        try {
          const sink = new Uint8Array(16 * 1024);
          while ((await framing.read(socket, sink)) !== null);
          finish(true);
        } catch {
          finish(false);
        } finally {
          clearTimeout(timer);
        }
      },
    };
    const stream = new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: AUTO_CHUNK_BYTES,
      pull: async (controller) => {
        const request = controller.byobRequest!;
        try {
          const n = await direct.read(request.view as Uint8Array);
          if (n === null) {
            controller.close();
            request.respond(0);
            return;
          }
          request.respond(n);
        } catch (e) {
          controller.error(e);
        }
      },
      cancel: () => direct.cancel(),
    });
    directBodies.set(stream, direct);
    return stream;
  }
}

/**
 * A body read straight from its connection into the caller's buffer, without the stream's promise hops
 * per read (a TLS connection hands over 16 KiB per read). Same errors as the stream.
 */
export interface DirectBody {
  /** Reads into `view`; the number of bytes, or null at the end of the body. */
  read(view: Uint8Array): Promise<number | null>;
  /** Stops reading: the rest is drained when short (the connection is reused), else it is closed. */
  cancel(): Promise<void>;
}

const directBodies = new WeakMap<ReadableStream<Uint8Array>, DirectBody>();

/**
 * The direct reader of a body {@link Http1Client} made, or null for any other body (`fetch`'s) or one
 * already read or locked. The stream is locked: from then on only the direct reader reads it.
 */
export function takeDirectBody(body: ReadableStream<Uint8Array> | null): DirectBody | null {
  if (!body || body.locked) return null;
  const direct = directBodies.get(body);
  if (!direct) return null;
  directBodies.delete(body);
  body.getReader();
  return direct;
}

/** Resolves with the connection unless `signal` aborts first (a connection made after that is closed). */
function abortable<T extends Conn>(connecting: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return connecting;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    connecting.then((conn) => {
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted) closeQuietly(conn);
      else resolve(conn);
    }, (e) => {
      signal.removeEventListener("abort", onAbort);
      reject(e);
    });
  });
}

function withAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, conn: Conn): Promise<T> {
  if (!signal) return promise;
  const onAbort = () => closeQuietly(conn);
  signal.addEventListener("abort", onAbort, { once: true });
  return promise.finally(() => signal.removeEventListener("abort", onAbort));
}

function asTypeError(e: unknown): TypeError {
  if (e instanceof TypeError) return e;
  return new TypeError(`connection failed while reading the body: ${(e as Error)?.message ?? e}`, {
    cause: e,
  });
}

function closeQuietly(conn: Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}
