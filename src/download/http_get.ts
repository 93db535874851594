/**
 * One HTTP GET, with redirects followed by hand so that every hop is checked
 * against the {@link HostPolicy} before lode connects to it, and with
 * transport failures turned into typed errors (`TLS`, `NETWORK`,
 * `HTTP_NOT_FOUND`, `HTTP_STATUS`).
 *
 * @example
 * ```ts
 * import { createHttpClients } from "./proxy.ts";
 * import { HostPolicy } from "./host_policy.ts";
 * const clients = createHttpClients({ caCertPems: [await Deno.readTextFile("ca.pem")] });
 * const policy = new HostPolicy().with(["https://127.0.0.1:8443"]);
 * const { response, url } = await openGet("https://127.0.0.1:8443/m.gguf", { policy, clientFor: clients.clientFor });
 * ```
 * @module
 */
import { LodeError, toLodeError } from "../errors.ts";
import type { HostPolicy } from "./host_policy.ts";

const MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Options of {@link openGet}. */
export interface OpenGetOptions {
  policy: HostPolicy;
  /** The HTTP client for a URL (extra CAs, the proxy that applies to its host); Deno's default when omitted. */
  clientFor?: (url: URL) => Deno.HttpClient | undefined;
  /** Sends one GET without following redirects; `fetch` with `clientFor`'s client when omitted. */
  send?: SendRequest;
  /** Request headers (credentials); sent only to the first URL's host, never to a redirect target elsewhere. */
  headers?: Record<string, string>;
  /** Headers sent on every hop (e.g. `Range`). */
  everyHop?: Record<string, string>;
  signal?: AbortSignal;
}

/** Sends a GET, following at most 10 redirects, each to an allowed host. Returns a 2xx response. */
export async function openGet(
  url: string | URL,
  options: OpenGetOptions,
): Promise<{ response: Response; url: URL }> {
  let current = new URL(url);
  const origin = current.origin;
  let redirectedFrom: string | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    options.policy.check(current, { redirectedFrom });
    const headers = { ...options.everyHop, ...(current.origin === origin ? options.headers : undefined) };
    const response = await send(current, headers, options);
    if (REDIRECTS.has(response.status)) {
      await response.body?.cancel();
      const location = response.headers.get("location");
      if (!location) {
        throw new LodeError("HTTP_STATUS", `${current.host} redirected without a Location`, {
          details: { url: current.href, status: response.status },
        });
      }
      redirectedFrom = current.host;
      current = new URL(location, current);
      continue;
    }
    if (response.ok) return { response, url: current };
    if (response.status === 416 && options.everyHop?.range) return { response, url: current };
    await response.body?.cancel();
    const code = response.status === 404 || response.status === 410 ? "HTTP_NOT_FOUND" : "HTTP_STATUS";
    throw new LodeError(
      code,
      `${current.href} answered HTTP ${response.status} ${response.statusText}`.trim(),
      {
        details: {
          url: current.href,
          status: response.status,
          retry_after: response.headers.get("retry-after") ?? undefined,
          // A machine-readable reason some origins add (the Hugging Face Hub: GatedRepo, RepoNotFound, …).
          server_error_code: response.headers.get("x-error-code") ?? undefined,
          // A 401's challenge (an OCI registry's Bearer realm, service and scope); no credentials in it.
          www_authenticate: response.headers.get("www-authenticate") ?? undefined,
        },
      },
    );
  }
  throw new LodeError("HTTP_STATUS", `too many redirects (more than ${MAX_REDIRECTS}) from ${url}`, {
    details: { url: String(url) },
  });
}

/** Sends one GET and resolves with its answer, redirects not followed. */
export type SendRequest = (
  url: URL,
  init: { headers?: Record<string, string>; signal?: AbortSignal },
) => Promise<Response>;

/** The default {@link SendRequest}: `fetch` with the client `clientFor` picks. */
export function fetchSender(clientFor?: (url: URL) => Deno.HttpClient | undefined): SendRequest {
  return (url, init) => fetch(url, { redirect: "manual", ...init, client: clientFor?.(url) });
}

async function send(
  url: URL,
  headers: Record<string, string> | undefined,
  options: OpenGetOptions,
): Promise<Response> {
  try {
    return await (options.send ?? fetchSender(options.clientFor))(url, { headers, signal: options.signal });
  } catch (e) {
    throw transportError(e, url);
  }
}

/** Maps a fetch or body-read failure to `INTERRUPTED`, `TLS` or `NETWORK`; local file errors keep their own code. */
export function transportError(e: unknown, url: URL): LodeError {
  if (e instanceof LodeError) return e;
  // fetch and its body stream fail with TypeError (or an AbortError); anything else came from the
  // local side (the partial file: disk full, permissions) and keeps its own code.
  if (!(e instanceof TypeError) && !(e instanceof DOMException)) return toLodeError(e, "IO");
  const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : "";
  const message = (e instanceof Error ? e.message : String(e)) + cause;
  if (e instanceof DOMException && e.name === "AbortError") {
    return new LodeError("INTERRUPTED", `download of ${url.href} was cancelled`, { cause: e });
  }
  if (/certificate|tls|handshake|UnknownIssuer/i.test(message)) {
    return new LodeError("TLS", `TLS to ${url.host} failed: ${message}`, {
      details: { url: url.href },
      cause: e,
    });
  }
  return new LodeError("NETWORK", `connection to ${url.host} failed: ${message}`, {
    details: { url: url.href },
    cause: e,
  });
}
