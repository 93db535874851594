/**
 * Which hosts lode may connect to, checked before any connection is opened.
 *
 * - Only `https:` unless a host is explicitly allowed for plain `http:`.
 * - Only hosts on the allow-list: those the user named (in a reference, the
 *   lockfile, flags or config). A redirect to any other host is refused.
 * - `offline` allows nothing at all.
 *
 * Entries are host names (`example.com`), optionally with a leading `*.` for
 * sub-domains.
 *
 * @example
 * ```ts
 * const policy = new HostPolicy({ allowHosts: ["huggingface.co", "*.hf.co"] });
 * policy.check(new URL("https://cdn-lfs.hf.co/x")); // ok
 * policy.check(new URL("https://evil.example/x")); // throws HOST_NOT_ALLOWED
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";

/** Options of {@link HostPolicy}. */
export interface HostPolicyOptions {
  /** Hosts that may be contacted over https. */
  allowHosts?: Iterable<string>;
  /** Hosts that may also be contacted over plain http (they are allowed hosts too). */
  httpHosts?: Iterable<string>;
  /** Allow no network access at all. */
  offline?: boolean;
}

function normalise(host: string): string {
  return host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
}

function matches(patterns: Set<string>, host: string): boolean {
  if (patterns.has(host)) return true;
  for (const p of patterns) {
    if (p.startsWith("*.") && host.endsWith(p.slice(1))) return true;
  }
  return false;
}

/** An immutable allow-list; {@link HostPolicy.with} derives a wider one. */
export class HostPolicy {
  readonly #allow: Set<string>;
  readonly #http: Set<string>;
  readonly offline: boolean;

  constructor(options: HostPolicyOptions = {}) {
    this.#http = new Set([...(options.httpHosts ?? [])].map(normalise));
    this.#allow = new Set([...(options.allowHosts ?? []), ...this.#http].map(normalise));
    this.offline = options.offline ?? false;
  }

  /** A policy that also allows the hosts of `urls` (the hosts a user named). */
  with(urls: Iterable<string | URL>): HostPolicy {
    const hosts = [...this.#allow];
    for (const u of urls) hosts.push(new URL(u).hostname);
    return new HostPolicy({ allowHosts: hosts, httpHosts: this.#http, offline: this.offline });
  }

  /** The allowed hosts, for messages. */
  get allowedHosts(): string[] {
    return [...this.#allow].sort();
  }

  /** Throws `OFFLINE`, `INSECURE_URL` or `HOST_NOT_ALLOWED` unless `url` may be fetched. */
  check(url: URL, context: { redirectedFrom?: string } = {}): void {
    const host = normalise(url.hostname);
    if (this.offline) {
      throw new LodeError("OFFLINE", `offline: not connecting to ${host}`, {
        details: { url: url.href, host },
      });
    }
    if (url.protocol === "http:") {
      if (!matches(this.#http, host)) {
        throw new LodeError(
          "INSECURE_URL",
          `refusing plain http to ${host}: lode downloads over https only`,
          {
            details: { url: url.href, host },
          },
        );
      }
    } else if (url.protocol !== "https:") {
      throw new LodeError("INVALID_REF", `unsupported URL scheme ${url.protocol} in ${url.href}`, {
        details: { url: url.href },
      });
    }
    if (!matches(this.#allow, host)) {
      const via = context.redirectedFrom ? ` (redirected from ${context.redirectedFrom})` : "";
      throw new LodeError("HOST_NOT_ALLOWED", `host ${host} is not on the allow-list${via}`, {
        details: { url: url.href, host, allowed: this.allowedHosts, redirected_from: context.redirectedFrom },
      });
    }
  }
}
