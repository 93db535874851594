/**
 * Routes of the test origin and how a request to one becomes a {@linkcode ResponsePlan}: status,
 * headers, which bytes to send and which fault to inject while sending them. No socket I/O here.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type ByteRange, parseRange, type RequestHead } from "./http_wire.ts";

/**
 * A fault injected while serving a file route. Byte counts (`bytes`, `afterBytes`) count body bytes of
 * the response; `offset` of `corrupt` is an offset in the resource (so ranges covering it are corrupt too).
 * - `short`: announce the full Content-Length, send `bytes` body bytes, then close gracefully.
 * - `reset`: send `afterBytes` body bytes, then drop the connection abruptly (no TLS close_notify).
 * - `corrupt`: flip every bit of the byte at resource `offset` (if the response covers it).
 * - `stall`: send `afterBytes` body bytes, pause `ms` milliseconds (or until `release` resolves, if sooner),
 *   then send the rest.
 * - `throttle`: send `afterBytes` body bytes (default 0) at full speed, then the rest `chunkBytes` at a
 *   time, pausing `delayMs` milliseconds before each chunk but the body's first (a slow origin: a download
 *   that takes a while).
 * - `ignore_range`: always answer 200 with the full body (still advertising `Accept-Ranges: bytes`).
 * - `wrong_content_range`: answer a range request with 206 for *another* range (from 0, or from 1 when
 *   the request started at 0), with a Content-Range and body that agree with each other but not with
 *   the request.
 * - `etag_change`: the ETag is different on every request (so `If-Range` never matches).
 */
export type Fault =
  | { kind: "short"; bytes: number }
  | { kind: "reset"; afterBytes: number }
  | { kind: "corrupt"; offset: number }
  | { kind: "stall"; afterBytes: number; ms: number; release?: Promise<unknown> }
  | { kind: "throttle"; chunkBytes: number; delayMs: number; afterBytes?: number }
  | { kind: "ignore_range" }
  | { kind: "wrong_content_range" }
  | { kind: "etag_change" };

/** What every file route (in-memory `body` or on-disk `file`) may add. */
export interface FileRouteOptions {
  fault?: Fault;
  /** Fault only the first K GET requests to this route (default: every request). HEADs do not count. */
  faultTimes?: number;
  /** Extra or overriding response headers (lower-case names override the defaults). */
  headers?: Record<string, string>;
  /** ETag to send (quoted), instead of the computed one. */
  etag?: string;
  /** Last-Modified to send, instead of the file's mtime (or the origin's start time for bodies). */
  lastModified?: Date;
}

/** An in-memory file. */
export interface BodyRoute extends FileRouteOptions {
  body: Uint8Array;
}

/** A file on disk, streamed in 1 MiB chunks (never loaded whole); stat'ed on every request. */
export interface DiskFileRoute extends FileRouteOptions {
  file: string;
}

/** A plain answer with any status (404, 429 or 503 with `Retry-After`, ...). */
export interface StatusRoute {
  status: number;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
}

/** A redirect (default status 302) to `redirect`, sent as the Location header. */
export interface RedirectRoute {
  redirect: string;
  status?: number;
  headers?: Record<string, string>;
}

/** Bytes written to the socket verbatim (a whole hand-made response), then optionally a close. */
export interface RawResult {
  raw: string | Uint8Array;
  /** Close the connection after writing (default true). */
  close?: boolean;
}

/** A request as the origin saw it; also what {@linkcode Origin.requests} records. */
export interface OriginRequest {
  method: string;
  /** Request target as sent: path plus query. */
  path: string;
  /** Request headers, names lower-cased. */
  headers: Record<string, string>;
  /** `Date.now()` when the request head was parsed. */
  time: number;
  /** 1-based number of the TCP connection the request came on (same number = connection reused). */
  connection: number;
  /** Body bytes written to the socket so far (an upper bound of what the client received). */
  sentBytes: number;
  /** True when the client closed the connection before the whole body was written. */
  peerClosed?: boolean;
}

/** What a handler may answer: any non-handler route, or raw bytes. */
export type RouteResult = BodyRoute | DiskFileRoute | StatusRoute | RedirectRoute | RawResult;

/** Escape hatch: compute the answer per request. */
export interface HandlerRoute {
  handler: (req: OriginRequest) => RouteResult | Promise<RouteResult>;
}

/** One entry of the origin's route table. */
export type Route = BodyRoute | DiskFileRoute | StatusRoute | RedirectRoute | HandlerRoute;

/** Where the body bytes come from: `length` bytes at resource offset `start`. */
export type BodySource =
  | { kind: "bytes"; bytes: Uint8Array; start: number; length: number }
  | { kind: "file"; path: string; start: number; length: number };

/** Everything the server loop needs to answer one request. */
export interface ResponsePlan {
  status: number;
  headers: Record<string, string>;
  /** Absent for HEAD and for empty bodies. */
  body?: BodySource;
  /** A fault to apply while writing the body (`short`, `reset`, `corrupt`, `stall`, `throttle`). */
  fault?: Fault;
  /** Raw response bytes (handler escape hatch); `status`/`headers` are then unused. */
  raw?: Uint8Array;
  /** Close the connection after this response. */
  close: boolean;
}

interface RouteState {
  requests: number;
  faulted: number;
  bodyEtag?: string;
}

const states = new WeakMap<object, RouteState>();
const encoder = new TextEncoder();

function stateOf(route: object): RouteState {
  let s = states.get(route);
  if (!s) states.set(route, s = { requests: 0, faulted: 0 });
  return s;
}

function withHeaders(base: Record<string, string>, extra: Record<string, string> | undefined) {
  const out = { ...base };
  for (const [k, v] of Object.entries(extra ?? {})) out[k.toLowerCase()] = v;
  return out;
}

/**
 * Looks up the route for a request target: exact match first, then the path without its query.
 *
 * @example
 * ```ts
 * import { findRoute } from "./origin_routes.ts";
 *
 * const r = findRoute({ "/a": { status: 204 } }, "/a?x=1"); // { status: 204 }
 * ```
 */
export function findRoute(routes: Record<string, Route>, target: string): Route | undefined {
  return routes[target] ?? routes[target.split("?")[0] ?? target];
}

/**
 * Turns a request and its route (or `undefined`: 404) into a response plan, advancing the route's
 * request and fault counters. `startTime` is the Last-Modified of in-memory bodies.
 *
 * @example
 * ```ts
 * import { planResponse } from "./origin_routes.ts";
 *
 * const head = { method: "GET", target: "/f", version: "HTTP/1.1", headers: { range: "bytes=0-1" } };
 * const req = { method: "GET", path: "/f", headers: head.headers, time: 0, connection: 1 };
 * const plan = await planResponse(head, req, { route: { body: new Uint8Array(4) }, startTime: new Date() });
 * plan.status; // 206
 * ```
 */
export async function planResponse(
  head: RequestHead,
  req: OriginRequest,
  opts: { route: Route | undefined; startTime: Date },
): Promise<ResponsePlan> {
  const wantsClose = head.version === "HTTP/1.0" || /\bclose\b/i.test(head.headers["connection"] ?? "");
  let route: Route | RawResult | undefined = opts.route;
  if (route && "handler" in route) {
    try {
      route = await route.handler(req);
    } catch (e) {
      return textPlan(500, `handler threw: ${e}`, head, true);
    }
  }
  if (!route) return textPlan(404, "not found", head, wantsClose);
  if ("raw" in route) {
    const raw = typeof route.raw === "string" ? encoder.encode(route.raw) : route.raw;
    return { status: 0, headers: {}, raw, close: route.close ?? true };
  }
  if ("redirect" in route) {
    const headers = withHeaders({ location: route.redirect, "content-length": "0" }, route.headers);
    return { status: route.status ?? 302, headers, close: wantsClose };
  }
  if ("status" in route) {
    const body = typeof route.body === "string" ? encoder.encode(route.body) : route.body ?? new Uint8Array();
    const plan = bytesPlan(route.status, body, head, wantsClose);
    plan.headers = withHeaders(plan.headers, route.headers);
    return plan;
  }
  if (head.method !== "GET" && head.method !== "HEAD") {
    const plan = textPlan(405, "method not allowed", head, wantsClose);
    plan.headers["allow"] = "GET, HEAD";
    return plan;
  }
  return await filePlan(route, head, { wantsClose, startTime: opts.startTime });
}

function bytesPlan(status: number, body: Uint8Array, head: RequestHead, close: boolean): ResponsePlan {
  const plan: ResponsePlan = { status, headers: { "content-length": String(body.length) }, close };
  if (head.method !== "HEAD" && body.length > 0) {
    plan.body = { kind: "bytes", bytes: body, start: 0, length: body.length };
  }
  return plan;
}

function textPlan(status: number, text: string, head: RequestHead, close: boolean): ResponsePlan {
  const plan = bytesPlan(status, encoder.encode(text), head, close);
  plan.headers["content-type"] = "text/plain; charset=utf-8";
  return plan;
}

async function filePlan(
  route: BodyRoute | DiskFileRoute,
  head: RequestHead,
  opts: { wantsClose: boolean; startTime: Date },
): Promise<ResponsePlan> {
  const state = stateOf(route);
  state.requests++;
  let size: number;
  let etag: string;
  let mtime: Date;
  if ("file" in route) {
    const st = await Deno.stat(route.file);
    size = st.size;
    mtime = st.mtime ?? opts.startTime;
    etag = `"${size.toString(16)}-${mtime.getTime().toString(16)}"`;
  } else {
    size = route.body.length;
    mtime = opts.startTime;
    state.bodyEtag ??= `"${createHash("sha256").update(route.body).digest("hex").slice(0, 32)}"`;
    etag = state.bodyEtag;
  }
  etag = route.etag ?? etag;
  const lastModified = (route.lastModified ?? mtime).toUTCString();

  const limit = route.faultTimes ?? Infinity;
  const faultOn = route.fault !== undefined && state.faulted < limit;
  if (faultOn && head.method === "GET") state.faulted++;
  const fault = faultOn ? route.fault : undefined;
  if (fault?.kind === "etag_change") etag = `${etag.slice(0, -1)}-${state.requests}"`;

  const headers: Record<string, string> = {
    "content-type": "application/octet-stream",
    "accept-ranges": "bytes",
    etag,
    "last-modified": lastModified,
  };
  const ifRange = head.headers["if-range"];
  const rangeOk = fault?.kind !== "ignore_range" &&
    (ifRange === undefined || ifRange === lastModified || (!ifRange.startsWith("W/") && ifRange === etag));
  const range = rangeOk ? parseRange(head.headers["range"], size) : "none";

  const finish = (status: number, r: ByteRange | undefined): ResponsePlan => {
    const start = r?.start ?? 0;
    const length = r ? r.end - r.start + 1 : size;
    headers["content-length"] = String(length);
    const plan: ResponsePlan = {
      status,
      headers: withHeaders(headers, route.headers),
      close: opts.wantsClose,
    };
    if (head.method === "GET" && length > 0) {
      plan.body = "file" in route
        ? { kind: "file", path: route.file, start, length }
        : { kind: "bytes", bytes: route.body, start, length };
      if (fault && ["short", "reset", "corrupt", "stall", "throttle"].includes(fault.kind)) {
        plan.fault = fault;
      }
      if (fault?.kind === "short" || fault?.kind === "reset") plan.close = true;
    }
    return plan;
  };

  if (range === "none") return finish(200, undefined);
  if (range === "unsatisfiable") {
    const plan = textPlan(416, "", head, opts.wantsClose);
    plan.headers = withHeaders({ ...plan.headers, "content-range": `bytes */${size}` }, route.headers);
    return plan;
  }
  let served = range;
  if (fault?.kind === "wrong_content_range") {
    const start = range.start > 0 ? 0 : 1;
    const length = Math.min(range.end - range.start + 1, size - start);
    if (length > 0) served = { start, end: start + length - 1 };
  }
  headers["content-range"] = `bytes ${served.start}-${served.end}/${size}`;
  return finish(206, served);
}
