/**
 * Registry credentials a user already has: `LODE_OCI_USERNAME`/`LODE_OCI_PASSWORD` (for the registry of
 * the reference being pulled), else Docker's `config.json` (`$DOCKER_CONFIG/config.json`, default
 * `~/.docker/config.json`): `credHelpers[HOST]`, then `auths[HOST].auth` (base64 `user:password`, or
 * `identitytoken`), then `credsStore` — a helper is the program `docker-credential-NAME get`, given
 * the host on stdin, answering `{"Username","Secret"}`. Credentials are returned, never printed.
 *
 * @example
 * ```ts
 * const creds = await ociCredentials("ghcr.io", { dockerConfigDir: "/home/me/.docker" });
 * creds?.username;
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { RegistrySettings } from "../registry.ts";

/** A user name and password (or a token as password) for one registry. */
export interface OciCredentials {
  username: string;
  password: string;
  /** An OAuth2 refresh token from `docker login` (`identitytoken`); sent to the token realm. */
  identityToken?: string;
}

/** The effects {@link ociCredentials} uses (injected in tests). */
export interface DockerConfigEffects {
  readText(path: string): Promise<string | null>;
  /** Runs `docker-credential-NAME get` with `host` on stdin; its stdout, or null when it failed. */
  runHelper(name: string, host: string): Promise<string | null>;
}

const DENO_EFFECTS: DockerConfigEffects = {
  async readText(path) {
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
  },
  async runHelper(name, host) {
    try {
      const child = new Deno.Command(`docker-credential-${name}`, {
        args: ["get"],
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(host));
      await writer.close();
      const out = await child.output();
      return out.success ? new TextDecoder().decode(out.stdout) : null;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
  },
};

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** The keys `config.json` may file `host` under (`docker login` writes some hosts as URLs). */
function keysFor(host: string): string[] {
  return [host, `https://${host}`, `https://${host}/`, `https://${host}/v1/`, `https://${host}/v2/`];
}

async function fromHelper(effects: DockerConfigEffects, name: string, host: string) {
  const out = await effects.runHelper(name, host);
  if (!out) return undefined;
  try {
    const { Username, Secret } = JSON.parse(out) as { Username?: string; Secret?: string };
    if (typeof Secret !== "string" || !Secret) return undefined;
    // A helper answers `<token>` as Username when Secret is an identity token.
    return Username === "<token>"
      ? { username: "", password: "", identityToken: Secret }
      : { username: Username ?? "", password: Secret };
  } catch {
    return undefined;
  }
}

/** The credentials for `host` (see the module doc), or undefined when there are none. */
export async function ociCredentials(
  host: string,
  settings: RegistrySettings,
  effects: DockerConfigEffects = DENO_EFFECTS,
): Promise<OciCredentials | undefined> {
  if (settings.ociUsername !== undefined && settings.ociPassword !== undefined) {
    return { username: settings.ociUsername, password: settings.ociPassword };
  }
  if (!settings.dockerConfigDir) return undefined;
  const path = `${settings.dockerConfigDir.replace(/\/+$/, "")}/config.json`;
  const text = await effects.readText(path);
  if (text === null) return undefined;
  let config: DockerConfig;
  try {
    config = JSON.parse(text) as DockerConfig;
  } catch {
    throw new LodeError("CONFIG_INVALID", `${path} is not valid JSON`, {
      details: { path },
      hint: "Fix the file (docker login writes it), or set DOCKER_CONFIG to another directory.",
    });
  }
  const helper = config.credHelpers?.[host];
  if (helper) return await fromHelper(effects, helper, host);
  for (const key of keysFor(host)) {
    const entry = config.auths?.[key];
    if (!entry) continue;
    if (entry.identitytoken) return { username: "", password: "", identityToken: entry.identitytoken };
    if (entry.username !== undefined && entry.password !== undefined) {
      return { username: entry.username, password: entry.password };
    }
    if (entry.auth) {
      let decoded: string;
      try {
        decoded = atob(entry.auth);
      } catch {
        continue;
      }
      const colon = decoded.indexOf(":");
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  if (config.credsStore) return await fromHelper(effects, config.credsStore, host);
  return undefined;
}

/** The `Authorization: Basic` value of `creds`. */
export function basicAuth(creds: OciCredentials): string {
  const bytes = new TextEncoder().encode(`${creds.username}:${creds.password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}
