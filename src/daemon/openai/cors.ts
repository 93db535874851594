/**
 * Cross-origin access to the HTTP front for web pages (CORS): pages served
 * from a loopback origin (`http://localhost:PORT`, `http://127.0.0.1:PORT`,
 * `http://[::1]:PORT`, any port, http or https) are allowed, and so are the
 * origins the user names (`lode serve --allow-origin ORIGIN`, the config
 * file's `allow_origins`). A preflight `OPTIONS` from an allowed origin is
 * answered 204 with `Access-Control-Allow-Origin` (the origin itself),
 * `-Methods`, `-Headers` (the requested headers this server reads: the
 * `openai` client's and the AI SDKs') and `-Max-Age`; every other answer to
 * an allowed origin carries `Access-Control-Allow-Origin` and exposes
 * `x-request-id`. Any other origin is refused with 403 (preflight or not;
 * http_intake.ts) unless the front was started with `--http-allow-remote`.
 *
 * @example
 * ```ts
 * import { allowedOrigins, preflight } from "./cors.ts";
 * const allowed = allowedOrigins(["https://app.example.com"]);
 * allowed("http://localhost:5173"); // true
 * allowed("https://app.example.com"); // true
 * allowed("https://evil.example"); // false
 * ```
 * @module
 */
import { ORIGIN_FORM, originOf } from "../../config_origins.ts";
import { LodeError } from "../../errors.ts";
import { isLoopbackHost } from "./http_address.ts";

/** Request headers a page may send (besides the CORS-safelisted ones); `x-stainless-*` by prefix. */
const ALLOWED_HEADERS = new Set([
  "authorization",
  "content-type",
  "accept",
  "openai-beta",
  "openai-organization",
  "openai-project",
  "openai-version",
  "idempotency-key",
  "x-request-id",
]);
const ALLOWED_PREFIXES = ["x-stainless-"];
/** Response headers a page may read. */
const EXPOSED = "x-request-id, retry-after, x-should-retry";
const METHODS = "GET, POST, DELETE, OPTIONS";
const MAX_AGE = "600";

/**
 * The origins in `texts` normalized ({@link originOf}); `USAGE` naming the first that is not an origin.
 * `where` names the setting in the message (`--allow-origin`).
 *
 * @example
 * ```ts
 * parseOrigins(["http://app.test:8080/"], "--allow-origin"); // ["http://app.test:8080"]
 * ```
 */
export function parseOrigins(texts: readonly string[], where: string): string[] {
  return texts.map((text) => {
    const origin = originOf(text);
    if (origin === null) {
      throw new LodeError("USAGE", `${where} ${JSON.stringify(text)} is not a web origin`, {
        details: { origin: text },
        hint: `Give ${ORIGIN_FORM} (loopback origins are allowed without it).`,
      });
    }
    return origin;
  });
}

/**
 * Whether a page of an origin may call the front: loopback origins always, and the `named` ones.
 *
 * @example
 * ```ts
 * allowedOrigins([])("http://[::1]:3000"); // true
 * ```
 */
export function allowedOrigins(named: readonly string[]): (origin: string) => boolean {
  const set = new Set(named.map((o) => originOf(o) ?? o));
  return (origin) => {
    const normal = originOf(origin);
    if (normal === null) return false;
    if (set.has(normal)) return true;
    return isLoopbackHost(new URL(normal).hostname);
  };
}

/**
 * The 204 answer to a preflight from an allowed `origin`: the requested headers this server reads are
 * echoed in `Access-Control-Allow-Headers` (the others left out, so the browser refuses the request).
 *
 * @example
 * ```ts
 * const req = new Request("http://127.0.0.1:8080/v1/chat/completions", {
 *   method: "OPTIONS",
 *   headers: { origin: "http://localhost:5173", "access-control-request-headers": "content-type, authorization" },
 * });
 * preflight(req, "http://localhost:5173").status; // 204
 * ```
 */
export function preflight(req: Request, origin: string): Response {
  const requested = (req.headers.get("access-control-request-headers") ?? "")
    .split(",").map((h) => h.trim().toLowerCase()).filter((h) => h !== "");
  const allowed = requested.filter((h) =>
    ALLOWED_HEADERS.has(h) || ALLOWED_PREFIXES.some((p) => h.startsWith(p))
  );
  const headers = new Headers({
    "access-control-allow-origin": origin,
    "access-control-allow-methods": METHODS,
    "access-control-max-age": MAX_AGE,
    vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
  });
  if (allowed.length > 0) headers.set("access-control-allow-headers", allowed.join(", "));
  return new Response(null, { status: 204, headers });
}

/**
 * Adds the CORS headers for an allowed `origin` to `response` (and `Vary: Origin` to every answer, so
 * caches keep answers to different origins apart).
 *
 * @example
 * ```ts
 * withCors(new Response("{}"), "http://localhost:5173").headers.get("access-control-allow-origin");
 * // "http://localhost:5173"
 * ```
 */
export function withCors(response: Response, origin: string | null): Response {
  response.headers.append("vary", "Origin");
  if (origin === null) return response;
  response.headers.set("access-control-allow-origin", origin);
  response.headers.set("access-control-expose-headers", EXPOSED);
  return response;
}

/**
 * The `OPTIONS` answer without a preflight (no `Origin`): 204 with `Allow`.
 *
 * @example
 * ```ts
 * options().headers.get("allow"); // "GET, POST, DELETE, OPTIONS"
 * ```
 */
export function options(): Response {
  return new Response(null, { status: 204, headers: { allow: METHODS } });
}
