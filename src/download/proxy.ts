/**
 * Which proxy, if any, a request goes through, and one `Deno.HttpClient` per (proxy, CA set) so that
 * every request lode makes goes through a client that says so explicitly.
 *
 * lode decides itself instead of leaving it to Deno, because Deno's own reading of the environment
 * (measured on Deno 2.9.6) is not predictable enough: its `NO_PROXY` ignores `host:port` entries,
 * ignores `*` for IP-address hosts and compares case-sensitively; a client made with
 * `Deno.createHttpClient({ caCerts })` (or the default client) still applies `HTTPS_PROXY` from the
 * process environment; and the process's `NO_PROXY` even overrides an explicit `proxy` option. The
 * environment is read when a client is created (the default client: at the first fetch), so the
 * composition root removes `PROXY_ENV_NAMES` (src/config_env.ts) from the live environment once
 * `loadConfig` has its snapshot, and the clients made here are then the only ones deciding.
 * Deno never bypasses a proxy for loopback hosts by itself, and neither does lode: only `NO_PROXY` does.
 *
 * Rules (close to curl's, and a superset of Deno's `NO_PROXY` matching):
 * - `https:` URLs use the `https` proxy (`HTTPS_PROXY`), `http:` URLs the `http` proxy (`HTTP_PROXY`).
 * - A proxy URL without a scheme means `http://`; `user:password@` in it becomes basic auth
 *   (percent-decoded). Schemes: `http`, `https` (TLS to the proxy), `socks5`, `socks5h`. Without a
 *   port, Deno uses the scheme's (80 or 443), not curl's 1080.
 * - `NO_PROXY` entries, comma- or space-separated, case-insensitive:
 *   `*` (everything); `example.com`, `.example.com` and `*.example.com` (the domain and its
 *   sub-domains); an IP address (`127.0.0.1`, `::1`, `[::1]`) or a CIDR range (`10.0.0.0/8`,
 *   `fe80::/10`), matched against IP-address hosts only (names are never resolved); any of them
 *   with `:port` to match only that port (`[::1]:8443`, `mirror.local:8080`).
 *
 * @example
 * ```ts
 * const clients = createHttpClients({
 *   caCertPems: [],
 *   proxy: { https: "http://proxy.corp:3128", noProxy: ["localhost", ".corp"] },
 * });
 * const url = new URL("https://huggingface.co/x.gguf");
 * const response = await fetch(url, { client: clients.clientFor(url) });
 * clients.close();
 * ```
 * @module
 */
import { parseProxyUrl, type ProxyConfig, type ProxyEndpoint } from "../config_env.ts";
import { Http1Client } from "./http1_client.ts";
import { fetchSender, type SendRequest } from "./http_get.ts";

/** Bytes of an IPv4 (4) or IPv6 (16) address (brackets and a `%zone` allowed), or null when `text` is not one. */
function parseIp(text: string): Uint8Array | null {
  let s = text.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    const parts = s.split(".").map(Number);
    return parts.every((n) => n <= 255) ? new Uint8Array(parts) : null;
  }
  if (!s.includes(":")) return null;
  // A dotted IPv4 tail (`::ffff:1.2.3.4`) becomes its two 16-bit words.
  const v4 = /(?<=:)\d{1,3}(?:\.\d{1,3}){3}$/.exec(s);
  if (v4) {
    const b = parseIp(v4[0]);
    if (!b) return null;
    s = `${s.slice(0, v4.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${
      ((b[2]! << 8) | b[3]!).toString(16)
    }`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const [head, rest] = halves.map((h) => (h ? h.split(":") : []));
  const words = [...head!, ...(rest ?? [])];
  if (!words.every((w) => /^[0-9a-f]{1,4}$/i.test(w))) return null;
  if (halves.length === 1 ? words.length !== 8 : words.length > 7) return null;
  const zeros: string[] = Array(8 - words.length).fill("0");
  const all = [...head!, ...(halves.length === 2 ? zeros : []), ...(rest ?? [])];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    const n = parseInt(w, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

function inPrefix(addr: Uint8Array, net: Uint8Array, bits: number): boolean {
  if (addr.length !== net.length) return false;
  for (let i = 0; i < addr.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((addr[i]! & mask) !== (net[i]! & mask)) return false;
  }
  return true;
}

type HostTest = (host: string, ip: Uint8Array | null) => boolean;

function hostTest(pattern: string): HostTest {
  const slash = pattern.indexOf("/");
  if (slash >= 0) {
    const net = parseIp(pattern.slice(0, slash));
    const bits = Number(pattern.slice(slash + 1));
    if (!net || !/^\d+$/.test(pattern.slice(slash + 1)) || bits > net.length * 8) return () => false;
    return (_host, ip) => ip !== null && inPrefix(ip, net, bits);
  }
  const addr = parseIp(pattern);
  if (addr) return (_host, ip) => ip !== null && inPrefix(ip, addr, addr.length * 8);
  const domain = pattern.replace(/^\*?\./, "").replace(/\.$/, "");
  return (host) => host === domain || host.endsWith(`.${domain}`);
}

function defaultPort(protocol: string): string {
  return protocol === "https:" ? "443" : protocol === "http:" ? "80" : "";
}

/**
 * Compiles `NO_PROXY` entries into a test: does this URL bypass the proxy?
 *
 * @example
 * ```ts
 * const bypass = noProxyMatcher(["127.0.0.0/8", ".corp", "mirror.local:8080"]);
 * bypass(new URL("https://127.0.0.2:9/")); // true
 * bypass(new URL("https://a.b.corp/")); // true
 * bypass(new URL("http://mirror.local/")); // false: port 80, not 8080
 * ```
 */
export function noProxyMatcher(entries: readonly string[]): (url: URL) => boolean {
  const tests: { port: string | null; test: HostTest }[] = [];
  let all = false;
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === "*") {
      all = true;
      continue;
    }
    // "[v6]:port", "host:port" or "v4:port"; a bare IPv6 address has several colons and no port.
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? /^([^:]+):(\d+)$/.exec(entry);
    tests.push({ port: m?.[2] ?? null, test: hostTest(m ? m[1]! : entry) });
  }
  return (url) => {
    if (all) return true;
    const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
    const ip = parseIp(host);
    const port = url.port || defaultPort(url.protocol);
    return tests.some((t) => (t.port === null || t.port === port) && t.test(host, ip));
  };
}

/** The clients of {@link createHttpClients}. */
export interface HttpClients {
  /**
   * The client to pass to `fetch` for this URL (call it again for every redirect hop): one with the
   * proxy that applies, one with only the extra CAs when none applies, or `undefined` (Deno's default)
   * when neither a proxy nor an extra CA is involved. Clients are cached; do not close them yourself.
   */
  clientFor(url: URL): Deno.HttpClient | undefined;
  /**
   * Sends one GET (redirects not followed): through `fetch` with {@link HttpClients.clientFor}'s client
   * when a proxy applies, otherwise on lode's own HTTP/1.1 client, which reads bodies faster
   * (http1_client.ts).
   */
  send: SendRequest;
  /** The proxy (`scheme://host:port`, no credentials) that `url` goes through, or null; for messages. */
  proxyFor(url: URL): string | null;
  /** Closes every client made so far; `clientFor` throws afterwards. */
  close(): void;
}

/** Options of {@link createHttpClients}. */
export interface HttpClientsOptions {
  /** Extra trusted CA certificates (PEM), used for the origin (and for an `https://` proxy). */
  caCertPems: string[];
  /** Proxy settings; no proxy at all when omitted. */
  proxy?: ProxyConfig;
  /** Send direct requests with `fetch` too, not the HTTP/1.1 client (for comparisons). */
  fetchOnly?: boolean;
}

/**
 * Builds the per-URL client chooser: one `Deno.HttpClient` per (proxy, CA set), made on first use.
 * Throws `USAGE` when a proxy URL in `options.proxy` is not one.
 *
 * @example
 * ```ts
 * import { proxyFromEnv } from "../config_env.ts";
 * const caPem = await Deno.readTextFile("ca.pem");
 * const clients = createHttpClients({ caCertPems: [caPem], proxy: proxyFromEnv(Deno.env.toObject()) });
 * try {
 *   const url = new URL("https://127.0.0.1:8443/m.gguf");
 *   const response = await fetch(url, { client: clients.clientFor(url), redirect: "manual" });
 *   await response.body?.cancel();
 * } finally {
 *   clients.close();
 * }
 * ```
 */
export function createHttpClients(options: HttpClientsOptions): HttpClients {
  const caCerts = options.caCertPems;
  const proxy = options.proxy ?? { noProxy: [] };
  const endpoints = new Map<string, ProxyEndpoint>();
  if (proxy.https) endpoints.set("https:", parseProxyUrl(proxy.https));
  if (proxy.http) endpoints.set("http:", parseProxyUrl(proxy.http));
  const bypass = noProxyMatcher(proxy.noProxy);
  const cache = new Map<string, Deno.HttpClient>();
  let http1: Http1Client | null = null;
  let closed = false;

  const endpointFor = (url: URL): ProxyEndpoint | null => {
    const endpoint = endpoints.get(url.protocol);
    return endpoint && !bypass(url) ? endpoint : null;
  };

  const clientFor = (url: URL): Deno.HttpClient | undefined => {
    if (closed) throw new Error("createHttpClients: clientFor() after close()");
    const endpoint = endpointFor(url);
    if (!endpoint && caCerts.length === 0) return undefined;
    const key = endpoint ? JSON.stringify([endpoint.url, endpoint.basicAuth ?? null]) : "direct";
    let client = cache.get(key);
    if (!client) {
      client = Deno.createHttpClient({
        ...(caCerts.length > 0 ? { caCerts } : {}),
        ...(endpoint ? { proxy: { url: endpoint.url, basicAuth: endpoint.basicAuth } } : {}),
      });
      cache.set(key, client);
    }
    return client;
  };
  const viaFetch = fetchSender(clientFor);
  return {
    clientFor,
    send(url, init) {
      if (options.fetchOnly || endpointFor(url)) {
        return viaFetch(url, init);
      }
      if (closed) throw new Error("createHttpClients: send() after close()");
      http1 ??= new Http1Client({ caCerts });
      return http1.request(url, init);
    },
    proxyFor(url) {
      return endpointFor(url)?.url ?? null;
    },
    close() {
      closed = true;
      for (const client of cache.values()) client.close();
      http1?.close();
      cache.clear();
    },
  };
}
