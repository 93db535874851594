/**
 * A real, deliberately unreliable HTTP/1.1 origin for tests: raw sockets from `Deno.listenTls` (or
 * `Deno.listen` for plain http) on a loopback address, a route table of files, statuses, redirects
 * and handlers, and fault injection (short bodies, resets, corruption, stalls, lying ranges and ETags).
 * Not `Deno.serve`: it has to be able to send responses that lie.
 *
 * @module
 */
import { findHeadEnd, parseRequestHead, responseHead } from "./http_wire.ts";
import {
  type BodySource,
  type Fault,
  findRoute,
  type OriginRequest,
  planResponse,
  type ResponsePlan,
  type Route,
} from "./origin_routes.ts";

export type {
  BodyRoute,
  DiskFileRoute,
  Fault,
  FileRouteOptions,
  HandlerRoute,
  OriginRequest,
  RawResult,
  RedirectRoute,
  Route,
  RouteResult,
  StatusRoute,
} from "./origin_routes.ts";

/** One logged request (see {@linkcode OriginRequest}). */
export type RequestLog = OriginRequest;

/** Options of {@linkcode startOrigin}. */
export interface OriginOptions {
  /**
   * Route table, `path -> Route`. The object is kept (not copied) and read on every request, so routes
   * may be added after start (e.g. a redirect to the origin's own URL). Unknown paths answer 404.
   */
  routes: Record<string, Route>;
  /** Serve TLS with this certificate and key (a {@linkcode TestCa} fits); plain http when omitted. */
  tls?: { certPem: string; keyPem: string };
  /** Address to bind (default `127.0.0.1`; `127.0.0.2` works on Linux as a second host). */
  hostname?: string;
  /** Port to bind (default 0: an ephemeral port). */
  port?: number;
}

/** A running origin. */
export interface Origin {
  /** `https://HOST:PORT` (or `http://...`), no trailing slash. */
  url: string;
  port: number;
  hostname: string;
  /** The live route table (same object as passed in). */
  routes: Record<string, Route>;
  /** Every request received, in order. */
  requests: RequestLog[];
  /** Number of TCP connections accepted so far. */
  readonly connections: number;
  /** Closes the listener and every open connection, and waits for all of them to finish. */
  close(): Promise<void>;
}

const CHUNK = 1024 * 1024;
const MAX_HEAD = 64 * 1024;
/** Bodies up to this size are written with their head in one write. */
const SMALL_BODY = 64 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Reads exactly `buf.length` bytes unless EOF comes first; returns how many were read. */
async function readFull(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}

/**
 * Writes `src` with `fault` applied. Returns false when the connection must not be reused (the body
 * was cut short or the file shrank); for `reset` the connection is already closed abruptly.
 */
async function writeBody(
  conn: Deno.Conn,
  src: BodySource,
  opts: { fault: Fault | undefined; signal: AbortSignal; onSent?: (bytes: number) => void },
): Promise<boolean> {
  const { fault, signal } = opts;
  const stop = fault?.kind === "short"
    ? Math.min(fault.bytes, src.length)
    : fault?.kind === "reset"
    ? Math.min(fault.afterBytes, src.length)
    : src.length;
  const stallAt = fault?.kind === "stall" ? fault.afterBytes : -1;
  const corruptAt = fault?.kind === "corrupt" ? fault.offset - src.start : -1;
  let stalled = false;
  let sent = 0;
  let file: Deno.FsFile | undefined;
  const buf = src.kind === "file" ? new Uint8Array(Math.min(CHUNK, src.length)) : undefined;
  try {
    if (src.kind === "file" && stop > 0) {
      file = await Deno.open(src.path, { read: true });
      await file.seek(src.start, Deno.SeekMode.Start);
    }
    while (true) {
      if (!stalled && sent === stallAt) {
        stalled = true;
        const pause = sleep(fault?.kind === "stall" ? fault.ms : 0, signal);
        await (fault?.kind === "stall" && fault.release ? Promise.race([pause, fault.release]) : pause);
        if (signal.aborted) return false;
      }
      if (sent >= stop) break;
      let n = Math.min(CHUNK, stop - sent);
      if (stallAt > sent) n = Math.min(n, stallAt - sent);
      if (fault?.kind === "throttle") {
        const fast = fault.afterBytes ?? 0;
        if (sent < fast) n = Math.min(n, fast - sent);
        else {
          if (sent > 0) await sleep(fault.delayMs, signal);
          if (signal.aborted) return false;
          n = Math.min(n, Math.max(1, fault.chunkBytes));
        }
      }
      let chunk: Uint8Array;
      if (src.kind === "bytes") {
        chunk = src.bytes.subarray(src.start + sent, src.start + sent + n);
      } else {
        const got = await readFull(file!, buf!.subarray(0, n));
        if (got < n) return false; // the file shrank under us: cut the response, close.
        chunk = buf!.subarray(0, n);
      }
      if (corruptAt >= sent && corruptAt < sent + n) {
        if (src.kind === "bytes") chunk = chunk.slice(); // never mutate the route's bytes
        chunk[corruptAt - sent] = chunk[corruptAt - sent]! ^ 0xff;
      }
      await writeAll(conn, chunk);
      sent += n;
      opts.onSent?.(n);
    }
  } finally {
    file?.close();
  }
  if (fault?.kind === "reset") {
    conn.close(); // no closeWrite: no TLS close_notify, no orderly shutdown
    return false;
  }
  if (fault?.kind === "short") {
    await conn.closeWrite().catch(() => {});
    return false;
  }
  return true;
}

/**
 * Starts an origin on `hostname:port` (default `127.0.0.1:0`). With `tls`, it speaks HTTPS (HTTP/1.1,
 * ALPN `http/1.1`); without, plain http. Supports GET and HEAD, sequential keep-alive requests on one
 * connection, and ignores request bodies.
 *
 * @example
 * ```ts
 * import { makeTestCa } from "./test_ca.ts";
 * import { startOrigin } from "./origin.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const ca = await makeTestCa(dir);
 * const origin = await startOrigin({
 *   tls: ca,
 *   routes: {
 *     "/model.gguf": { body: new Uint8Array(1000), fault: { kind: "short", bytes: 10 }, faultTimes: 1 },
 *     "/gone": { status: 404 },
 *     "/busy": { status: 503, headers: { "retry-after": "1" } },
 *     "/moved": { redirect: "https://127.0.0.2:8443/x" },
 *   },
 * });
 * const client = Deno.createHttpClient({ caCerts: [ca.caCertPem] });
 * const res = await fetch(`${origin.url}/gone`, { client });
 * await res.body?.cancel();
 * client.close();
 * await origin.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function startOrigin(options: OriginOptions): Promise<Origin> {
  try {
    return Promise.resolve(listen(options));
  } catch (e) {
    return Promise.reject(e);
  }
}

function listen(options: OriginOptions): Origin {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 0;
  const listener: Deno.Listener = options.tls
    ? Deno.listenTls({
      hostname,
      port,
      cert: options.tls.certPem,
      key: options.tls.keyPem,
      alpnProtocols: ["http/1.1"],
    })
    : Deno.listen({ hostname, port, transport: "tcp" });
  const addr = listener.addr as Deno.NetAddr;
  const startTime = new Date(Math.floor(Date.now() / 1000) * 1000);
  const requests: RequestLog[] = [];
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const abort = new AbortController();
  let connections = 0;
  let closing = false;

  const send = async (conn: Deno.Conn, plan: ResponsePlan, req: OriginRequest): Promise<boolean> => {
    if (plan.raw) {
      await writeAll(conn, plan.raw);
      return !plan.close;
    }
    if (plan.close) plan.headers["connection"] = "close";
    const head = encoder.encode(responseHead(plan.status, plan.headers));
    const body = plan.body;
    if (body?.kind === "bytes" && plan.fault === undefined && body.length <= SMALL_BODY) {
      // Head and a small body in one write, as HTTP servers send them: written apart, the body would
      // wait for the client's delayed ACK of the head (Nagle; a TLS connection cannot turn it off).
      const whole = new Uint8Array(head.length + body.length);
      whole.set(head);
      whole.set(body.bytes.subarray(body.start, body.start + body.length), head.length);
      await writeAll(conn, whole);
      req.sentBytes += body.length;
      return !plan.close;
    }
    await writeAll(conn, head);
    if (plan.body) {
      let ok: boolean;
      try {
        ok = await writeBody(conn, plan.body, {
          fault: plan.fault,
          signal: abort.signal,
          onSent: (n) => req.sentBytes += n,
        });
      } catch (e) {
        if (!closing) req.peerClosed = true; // the client hung up mid-body
        throw e;
      }
      if (!ok) return false;
    }
    return !plan.close;
  };

  const serveConn = async (conn: Deno.Conn, id: number): Promise<void> => {
    let buf = new Uint8Array(16 * 1024);
    let len = 0;
    const fill = async (): Promise<boolean> => {
      if (len === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(len));
      if (n === null) return false;
      len += n;
      return true;
    };
    try {
      while (!closing) {
        let end: number;
        while ((end = findHeadEnd(buf, len)) < 0) {
          if (len >= MAX_HEAD) {
            await writeAll(conn, encoder.encode(responseHead(431, { "content-length": "0" })));
            return;
          }
          if (!(await fill())) return;
        }
        const head = parseRequestHead(decoder.decode(buf.subarray(0, end)));
        buf.copyWithin(0, end, len);
        len -= end;
        if (!head) {
          const h = { "content-length": "0", connection: "close" };
          await writeAll(conn, encoder.encode(responseHead(400, h)));
          return;
        }
        // Ignore (but consume) a request body of known length; give up on chunked ones after answering.
        let skip = Number(head.headers["content-length"] ?? 0) || 0;
        while (skip > 0) {
          if (len === 0 && !(await fill())) return;
          const n = Math.min(skip, len);
          buf.copyWithin(0, n, len);
          len -= n;
          skip -= n;
        }
        const req: OriginRequest = {
          method: head.method,
          path: head.target,
          headers: head.headers,
          time: Date.now(),
          connection: id,
          sentBytes: 0,
        };
        requests.push(req);
        const plan = await planResponse(head, req, {
          route: findRoute(options.routes, head.target),
          startTime,
        });
        if (head.headers["transfer-encoding"]) plan.close = true;
        if (!(await send(conn, plan, req))) return;
      }
    } catch {
      // The peer went away, the origin is closing, or a fault closed the connection: nothing to do.
    } finally {
      open.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };

  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        if (closing) {
          conn.close();
          break;
        }
        connections++;
        open.add(conn);
        const task = serveConn(conn, connections);
        tasks.add(task);
        task.finally(() => tasks.delete(task));
      }
    } catch {
      // listener closed
    }
  })();

  const scheme = options.tls ? "https" : "http";
  const urlHost = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `${scheme}://${urlHost}:${addr.port}`,
    port: addr.port,
    hostname: addr.hostname,
    routes: options.routes,
    requests,
    get connections() {
      return connections;
    },
    async close() {
      if (closing) return;
      closing = true;
      abort.abort();
      try {
        listener.close();
      } catch {
        // already closed
      }
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await acceptLoop;
      await Promise.allSettled([...tasks]);
    },
  };
}
