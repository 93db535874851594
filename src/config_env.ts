/**
 * Reading environment variables' values, for src/config.ts (the reader of every setting): the
 * proxy variables and the syntax of their values, and the two settings the CLI needs before the
 * config is loaded ({@link cliSettings}). Imports nothing from npm, so `lode --version` does not
 * pay for zod.
 *
 * @example
 * ```ts
 * import { cliSettings, proxyFromEnv } from "./config_env.ts";
 * const { color, debug } = cliSettings({ NO_COLOR: "1" }); // { color: false, debug: false }
 * const proxy = proxyFromEnv(Deno.env.toObject());
 * ```
 * @module
 */
import { LodeError } from "./errors.ts";
import { joinPath } from "./path.ts";

/** The environment as lode read it at start. */
export type Env = Readonly<Record<string, string | undefined>>;

/** What the CLI needs from the environment before (or without) the config. */
export interface CliSettings {
  /** Colours allowed (no `NO_COLOR`); they are still used only on a terminal. */
  color: boolean;
  /** `LODE_DEBUG` set: an `INTERNAL` error also prints its stack trace. */
  debug: boolean;
  /** `LODE_LOCKFILE`: the lockfile a failure's hint may name (the commands read it through the config). */
  lockfile: string | undefined;
}

/**
 * The settings of {@link CliSettings} from `env`.
 *
 * @example
 * ```ts
 * cliSettings({ LODE_DEBUG: "1" }); // { color: true, debug: true, lockfile: undefined }
 * ```
 */
export function cliSettings(env: Env): CliSettings {
  return { color: !env.NO_COLOR, debug: Boolean(env.LODE_DEBUG), lockfile: env.LODE_LOCKFILE || undefined };
}

/**
 * Every environment variable that Deno's own `fetch` reads proxies from. lode reads them into
 * `Config.proxy` ({@link proxyFromEnv}) and decides per URL itself (src/download/proxy.ts); the
 * composition root removes them from the live process environment after taking its snapshot, so
 * that Deno does not apply them a second time.
 *
 * @example
 * ```ts
 * const env = Deno.env.toObject();
 * for (const name of PROXY_ENV_NAMES) Deno.env.delete(name);
 * ```
 */
export const PROXY_ENV_NAMES: readonly string[] = [
  "HTTPS_PROXY",
  "https_proxy",
  "HTTP_PROXY",
  "http_proxy",
  "ALL_PROXY",
  "all_proxy",
  "NO_PROXY",
  "no_proxy",
];

/** Proxy settings, as `loadConfig` reads them from `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`. */
export interface ProxyConfig {
  /** Proxy URL for `https:` requests; may carry `user:password@`. */
  https?: string;
  /** Proxy URL for `http:` requests; may carry `user:password@`. */
  http?: string;
  /** `NO_PROXY` entries (matched as src/download/proxy.ts says), lower-cased. */
  noProxy: string[];
}

/** A parsed proxy URL, in the shape `Deno.createHttpClient({ proxy })` takes. */
export interface ProxyEndpoint {
  /** `scheme://host[:port]`, without credentials (so it may be printed). */
  url: string;
  basicAuth?: { username: string; password: string };
}

const SCHEMES = new Set(["http:", "https:", "socks5:", "socks5h:"]);

/**
 * Parses a proxy URL (`HTTPS_PROXY` style). Throws `USAGE` (without echoing a password) when it is not one.
 *
 * @example
 * ```ts
 * parseProxyUrl("alice:s%40cret@proxy.corp:3128");
 * // { url: "http://proxy.corp:3128", basicAuth: { username: "alice", password: "s@cret" } }
 * ```
 */
export function parseProxyUrl(value: string): ProxyEndpoint {
  const text = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new LodeError("USAGE", `not a proxy URL: "${redact(text)}"`, {
      hint: "Give the proxy as http://HOST:PORT (or http://USER:PASSWORD@HOST:PORT).",
    });
  }
  if (!SCHEMES.has(url.protocol) || !url.hostname) {
    throw new LodeError(
      "USAGE",
      `unsupported proxy URL "${redact(text)}": use http, https, socks5 or socks5h`,
      {
        hint: "Give the proxy as http://HOST:PORT (or http://USER:PASSWORD@HOST:PORT).",
      },
    );
  }
  const bare = `${url.protocol}//${url.host}`;
  const username = decode(url.username);
  const password = decode(url.password);
  return {
    url: bare,
    ...(username || password ? { basicAuth: { username, password } } : {}),
  };
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** `scheme://user:password@host` → `scheme://host`, for messages about a value that did not parse. */
function redact(text: string): string {
  return text.replace(/\/\/[^/@]*@/, "//").replace(/^[^/:]*:[^/@]*@/, "");
}

/**
 * Splits a `NO_PROXY` value into entries: commas or whitespace between them, lower-cased, empties dropped.
 *
 * @example
 * ```ts
 * parseNoProxy(" localhost, .Corp  10.0.0.0/8 "); // ["localhost", ".corp", "10.0.0.0/8"]
 * ```
 */
export function parseNoProxy(value: string | undefined): string[] {
  return (value ?? "").split(/[\s,]+/).map((s) => s.toLowerCase()).filter(Boolean);
}

/** The first of `names` set to a non-empty value in `env`, with its name. */
function firstSet(
  env: Env,
  names: string[],
): { name: string; value: string } | null {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return null;
}

/**
 * The proxies the environment names: `HTTPS_PROXY`/`https_proxy` (else `ALL_PROXY`/`all_proxy`) for
 * https URLs, `HTTP_PROXY`/`http_proxy` (else the same fallback) for http URLs, `NO_PROXY`/`no_proxy`.
 * Throws `USAGE`, naming the variable, for a value that is not a proxy URL.
 *
 * @example
 * ```ts
 * proxyFromEnv({ https_proxy: "proxy.corp:3128", NO_PROXY: "localhost" });
 * // { https: "proxy.corp:3128", noProxy: ["localhost"] }
 * ```
 */
export function proxyFromEnv(env: Env): ProxyConfig {
  const all = ["ALL_PROXY", "all_proxy"];
  // Under CGI, a request's `Proxy:` header arrives as HTTP_PROXY ("httpoxy"): never trust it there.
  const httpNames = env.REQUEST_METHOD ? ["http_proxy"] : ["HTTP_PROXY", "http_proxy"];
  const https = firstSet(env, ["HTTPS_PROXY", "https_proxy", ...all]);
  const http = firstSet(env, [...httpNames, ...all]);
  for (const found of [https, http]) {
    if (!found) continue;
    try {
      parseProxyUrl(found.value);
    } catch (e) {
      throw new LodeError("USAGE", `${found.name}: ${(e as Error).message}`, {
        details: { variable: found.name },
        hint: (e as LodeError).hint,
      });
    }
  }
  const noProxy = firstSet(env, ["NO_PROXY", "no_proxy"]);
  return {
    ...(https ? { https: https.value } : {}),
    ...(http ? { http: http.value } : {}),
    noProxy: parseNoProxy(noProxy?.value),
  };
}

/** The home folder of `env` (`HOME`, else `USERPROFILE`, else the working folder). */
export function homeDir(env: Env): string {
  return env.HOME ?? env.USERPROFILE ?? ".";
}

/** Where installed plugins live: `$XDG_CONFIG_HOME/lode/plugins` (`~/.config/lode/plugins`). */
export function pluginsDirOf(env: Env): string {
  return joinPath(env.XDG_CONFIG_HOME || joinPath(homeDir(env), ".config"), "lode", "plugins");
}
