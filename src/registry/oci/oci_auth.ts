/**
 * Authenticating to an OCI registry as the distribution spec does it: a request without credentials;
 * on 401, the `WWW-Authenticate` challenge says how —
 *
 * - `Basic`: the user's credentials ({@link ociCredentials}) as `Authorization: Basic`;
 * - `Bearer realm="…",service="…",scope="…"`: a token from the realm (a GET with `service` and the
 *   `repository:REPO:pull` scope; the user's credentials as Basic when there are any, else anonymous),
 *   then `Authorization: Bearer TOKEN`.
 *
 * The header goes to the registry's host only (and the Basic credentials to its realm only); a 401 or
 * 403 that credentials do not cure is `ACCESS_DENIED` naming the registry.
 *
 * @example
 * ```ts
 * parseChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:m:pull"');
 * // { scheme: "bearer", params: { realm: "https://auth.example/token", service: "reg", scope: "repository:m:pull" } }
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { RegistryContext } from "../registry.ts";
import { basicAuth, type OciCredentials } from "./docker_config.ts";

/** A parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  /** Lower-cased: `basic`, `bearer`. */
  scheme: string;
  params: Record<string, string>;
}

/** Parses one challenge (`Scheme k="v",k2=v2`); null when there is none. */
export function parseChallenge(header: string | undefined): Challenge | null {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header ?? "");
  if (!m) return null;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

/** The hint of an OCI registry's `ACCESS_DENIED`. */
export function ociAccessHint(host: string): string {
  return `The registry ${host} refused access. Log in with \`docker login ${host}\` (lode reads ` +
    `~/.docker/config.json and its credential helpers), or set LODE_OCI_USERNAME and LODE_OCI_PASSWORD.`;
}

/** `ACCESS_DENIED` for `host`, with the status it answered. */
export function ociAccessDenied(host: string, status: number, hasCredentials: boolean): LodeError {
  const why = hasCredentials ? "refused the credentials given" : "requires credentials";
  return new LodeError("ACCESS_DENIED", `the OCI registry ${host} ${why} (HTTP ${status})`, {
    details: { registry: host, status },
    hint: ociAccessHint(host),
  });
}

/** The status of a typed HTTP error, or undefined. */
export function httpStatus(e: unknown): number | undefined {
  if (!(e instanceof LodeError) || e.code !== "HTTP_STATUS") return undefined;
  const status = (e.details as { status?: unknown } | undefined)?.status;
  return typeof status === "number" ? status : undefined;
}

function challengeOf(e: unknown): Challenge | null {
  const header = (e as LodeError).details as { www_authenticate?: string } | undefined;
  return parseChallenge(header?.www_authenticate);
}

/**
 * The `Authorization` value for `host` answering `challenge` (from a 401), fetching a Bearer token from
 * its realm when asked. `ACCESS_DENIED` when the registry wants credentials lode does not have.
 */
export async function authorize(
  ctx: RegistryContext,
  host: string,
  repository: string,
  challenge: Challenge | null,
  creds: OciCredentials | undefined,
): Promise<string> {
  if (challenge?.scheme === "bearer" && challenge.params.realm) {
    let realm: URL;
    try {
      realm = new URL(challenge.params.realm);
    } catch {
      throw new LodeError("HTTP_STATUS", `${host} sent a Bearer challenge with an invalid realm`, {
        details: { registry: host, status: 401 },
      });
    }
    if (challenge.params.service) realm.searchParams.set("service", challenge.params.service);
    // Several scopes (space-separated in a challenge) go as several `scope` parameters.
    for (const scope of (challenge.params.scope ?? `repository:${repository}:pull`).split(" ")) {
      if (scope) realm.searchParams.append("scope", scope);
    }
    if (creds?.identityToken) realm.searchParams.set("refresh_token", creds.identityToken);
    const headers: Record<string, string> = creds && !creds.identityToken
      ? { authorization: basicAuth(creds) }
      : {};
    let body: { token?: string; access_token?: string };
    try {
      const response = await ctx.get(realm, { headers, signal: ctx.signal });
      body = await response.json();
    } catch (e) {
      const status = httpStatus(e);
      if (status === 401 || status === 403) throw ociAccessDenied(host, status, creds !== undefined);
      if (e instanceof SyntaxError) {
        throw new LodeError("HTTP_STATUS", `the token realm of ${host} answered something other than JSON`, {
          details: { registry: host, realm: realm.origin + realm.pathname },
        });
      }
      throw e;
    }
    const token = body.token ?? body.access_token;
    if (typeof token !== "string" || !token) {
      throw new LodeError("HTTP_STATUS", `the token realm of ${host} answered without a token`, {
        details: { registry: host, realm: realm.origin + realm.pathname },
      });
    }
    return `Bearer ${token}`;
  }
  if (!creds || creds.identityToken) throw ociAccessDenied(host, 401, false);
  return basicAuth(creds);
}

/**
 * GETs `url` on the registry `host`, answering a 401's challenge once (see the module doc). Returns the
 * response and the `Authorization` value that worked (undefined: anonymous), for the following requests.
 */
export async function getWithAuth(
  ctx: RegistryContext,
  url: URL,
  request: { host: string; repository: string; accept?: string; authorization?: string },
  credentials: () => Promise<OciCredentials | undefined>,
): Promise<{ response: Response; authorization?: string }> {
  const headers = (authorization?: string): Record<string, string> => ({
    ...(request.accept ? { accept: request.accept } : {}),
    ...(authorization ? { authorization } : {}),
  });
  try {
    const response = await ctx.get(url, { headers: headers(request.authorization), signal: ctx.signal });
    return { response, authorization: request.authorization };
  } catch (e) {
    const status = httpStatus(e);
    if (status === 403) throw ociAccessDenied(request.host, 403, request.authorization !== undefined);
    if (status !== 401) throw e;
    if (request.authorization) throw ociAccessDenied(request.host, 401, true);
    const creds = await credentials();
    const authorization = await authorize(ctx, request.host, request.repository, challengeOf(e), creds);
    try {
      const response = await ctx.get(url, { headers: headers(authorization), signal: ctx.signal });
      return { response, authorization };
    } catch (e2) {
      const again = httpStatus(e2);
      if (again === 401 || again === 403) throw ociAccessDenied(request.host, again, creds !== undefined);
      throw e2;
    }
  }
}
