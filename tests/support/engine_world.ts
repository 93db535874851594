/**
 * A world for fault-injection tests of the parallel download engine: a test CA, an HTTPS origin
 * on 127.0.0.1 (and on request a second one on 127.0.0.2), one HTTP client for both, a temp dir for
 * partials, and helpers to read the origin's request log as byte ranges.
 *
 * Every engine test is a conformance case run against each way lode sends requests ({@link TRANSPORTS}:
 * lode's own HTTP/1.1 client and `fetch`), as hono runs one router suite against every router:
 * {@link engineTest} registers the test once per transport, and the world (in process and the CLI's
 * `LODE_HTTP_CLIENT`) uses that transport.
 *
 * @example
 * ```ts
 * await withEngine({ "/f": { body: BODY } }, async (w) => {
 *   const r = await downloadToPartial(`${w.origin.url}/f`, w.partial(), w.options());
 * });
 * ```
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { Http1Client } from "../../src/download/http1_client.ts";
import { LodeError } from "../../src/errors.ts";
import { HostPolicy } from "../../src/download/host_policy.ts";
import type { DownloadOptions } from "../../src/download/download_options.ts";
import {
  type BodyRoute,
  type Origin,
  type OriginRequest,
  type Route,
  type RouteResult,
  startOrigin,
} from "./origin.ts";
import { makeTestCa, type TestCa } from "./test_ca.ts";
import { runLode } from "./lode_cli.ts";
import { ggufWith } from "./gguf_bytes.ts";

/** The engine's first part (the probe's range): `FIRST_PART_BYTES` in parallel_download.ts. */
export const FIRST_PART = 4 * 1024 * 1024;
/** The part size the in-process tests ask for. */
export const PART = 256 * 1024;

/** `n` random bytes (getRandomValues fills at most 64 KiB per call). */
export function randomBody(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) crypto.getRandomValues(b.subarray(off, Math.min(n, off + 65536)));
  return b;
}

/**
 * A model of exactly `n` bytes (at least 128): a well-formed GGUF header and one tensor of random bytes,
 * for tests whose downloads end in the store (which takes a model only when lode's GGUF reader does).
 */
export function randomModel(n: number): Uint8Array {
  const model = ggufWith(randomBody(n - 128));
  if (model.length !== n) throw new Error(`randomModel(${n}) made ${model.length} bytes`);
  return model;
}

/** SHA-256 hex of `bytes` with node:crypto (the reference the engine is checked against). */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The parts the engine plans for `size` bytes with {@link PART}-sized parts after the first. */
export function plannedParts(size: number, partBytes = PART): { start: number; end: number }[] {
  const parts = [{ start: 0, end: Math.min(size, FIRST_PART) }];
  for (let s = FIRST_PART; s < size; s += partBytes) {
    parts.push({ start: s, end: Math.min(size, s + partBytes) });
  }
  return parts;
}

/** An inclusive byte range from a request's `Range` header (`null` without one). */
export function rangeOf(req: OriginRequest): { start: number; end: number } | null {
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers["range"] ?? "");
  return m ? { start: Number(m[1]), end: Number(m[2]) } : null;
}

/** GET requests for `path` (query ignored), optionally only those from index `from` of the log on. */
export function getsOf(origin: Origin, path: string, from = 0): OriginRequest[] {
  return origin.requests.slice(from).filter((r) => r.method === "GET" && r.path.split("?")[0] === path);
}

/** Bytes asked for by the ranged GETs in `reqs`. */
export function rangeBytes(reqs: OriginRequest[]): number {
  return reqs.reduce((sum, r) => {
    const range = rangeOf(r);
    return sum + (range ? range.end - range.start + 1 : 0);
  }, 0);
}

/** The promise's rejection as a LodeError (fails the test when it resolves or rejects with something else). */
export async function lodeErrorOf(p: Promise<unknown>): Promise<LodeError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LodeError) return e;
    throw new Error(`expected a LodeError, got ${e}`, { cause: e });
  }
  throw new Error("expected a LodeError, but the download succeeded");
}

/**
 * A handler route serving `body` (with a fixed ETag); `pick` may answer a given request with something
 * else (a fault for one range, a status, another version): return `undefined` to serve normally.
 */
export function rangeRoute(
  body: Uint8Array,
  pick: (range: { start: number; end: number } | null, req: OriginRequest) => RouteResult | undefined,
): Route {
  const clean: BodyRoute = { body, etag: `"${sha256(body).slice(0, 16)}"` };
  return { handler: (req) => pick(rangeOf(req), req) ?? clean };
}

/** The same body as `route` (same ETag) with `fault`, for {@link rangeRoute}'s `pick`. */
export function faulty(body: Uint8Array, fault: BodyRoute["fault"]): BodyRoute {
  return { body, etag: `"${sha256(body).slice(0, 16)}"`, fault };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The ways lode sends requests; every engine test runs with each. */
export const TRANSPORTS = ["http1", "fetch"] as const;
export type Transport = typeof TRANSPORTS[number];
const transportScope = new AsyncLocalStorage<Transport>();

/** Registers `fn` as one test per transport (`engine[http1]: name`, `engine[fetch]: name`). */
export function engineTest(name: string, fn: () => Promise<void>): void {
  for (const transport of TRANSPORTS) {
    Deno.test(`engine[${transport}]: ${name}`, () => transportScope.run(transport, fn));
  }
}

/** What a test gets. */
export interface EngineWorld {
  ca: TestCa;
  origin: Origin;
  /** Second origin on 127.0.0.2 (only with `{ second: true }`). */
  second?: Origin;
  dir: string;
  client: Deno.HttpClient;
  /** A fresh partial directory path (not created). */
  partial(): string;
  /** Engine options: this world's client and policy (both origins allowed), small parts, quick retries. */
  options(extra?: Partial<DownloadOptions>): DownloadOptions;
  /** Runs the real CLI with this world's CA, a store under `dir`. */
  lode(args: string[], env?: Record<string, string>): ReturnType<typeof runLode>;
  store: string;
}

/** Runs `body` in a fresh world and closes everything after it. */
export async function withEngine(
  routes: Record<string, Route>,
  body: (w: EngineWorld) => Promise<void>,
  opts: { second?: Record<string, Route> } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-engine-" });
  const ca = await makeTestCa(`${dir}/ca`);
  const origin = await startOrigin({ tls: ca, routes });
  const second = opts.second
    ? await startOrigin({ tls: ca, routes: opts.second, hostname: "127.0.0.2" })
    : undefined;
  const client = Deno.createHttpClient({ caCerts: [ca.caCertPem] });
  const transport = transportScope.getStore() ?? "http1";
  const http1 = new Http1Client({ caCerts: [ca.caCertPem] });
  const send = transport === "http1" ? http1.request.bind(http1) : undefined;
  let n = 0;
  const store = `${dir}/store`;
  try {
    await body({
      ca,
      origin,
      second,
      dir,
      client,
      store,
      partial: () => `${dir}/partial-${++n}`,
      options: (extra) => ({
        policy: new HostPolicy().with([origin.url, ...(second ? [second.url] : [])]),
        clientFor: () => client,
        send,
        connections: 4,
        partBytes: PART,
        retry: { attempts: 3, baseMs: 10, maxMs: 100 },
        stallMs: 500,
        ...extra,
      }),
      lode: (args, env) =>
        runLode(["--ca-cert", ca.caCertPath, ...args], {
          store,
          env: { LODE_HTTP_CLIENT: transport, ...env },
        }),
    });
  } finally {
    client.close();
    http1.close();
    await second?.close();
    await origin.close();
    await removeDir(dir);
  }
}

/** `rm -r`, retried: a write racing the removal (see the "no write after it resolves" test) must not mask a failure. */
async function removeDir(dir: string): Promise<void> {
  for (let i = 0;; i++) {
    try {
      return await Deno.remove(dir, { recursive: true });
    } catch (e) {
      if (i >= 5) throw e;
      await sleep(50);
    }
  }
}
