/**
 * Which credentials go to which host: the one place that decides it. `HF_TOKEN` (from the config's
 * settings, never from a lockfile, a manifest or a client) is sent as `Authorization: Bearer` to
 * the Hugging Face endpoint's own origin only — never to its CDN, a mirror's CDN or any other host.
 * The Hub's API client, the Hub's plans and every re-pull of a Hub model take their headers here.
 *
 * @example
 * ```ts
 * import { credentialsFor } from "./credentials.ts";
 * credentialsFor("https://huggingface.co/o/r/resolve/abc/m.gguf", { hfToken: "hf_x" }); // { authorization: "Bearer hf_x" }
 * credentialsFor("https://cdn-lfs.hf.co/m.gguf", { hfToken: "hf_x" }); // undefined
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import type { PlannedFile, RegistrySettings } from "./registry.ts";

/** The public Hub. */
export const DEFAULT_HF_ENDPOINT = "https://huggingface.co";

/** The Hub endpoint: `HF_ENDPOINT` or `https://huggingface.co`; `USAGE` when it is not an http(s) URL. */
export function hubEndpoint(settings: RegistrySettings): URL {
  const raw = settings.hfEndpoint?.trim() || DEFAULT_HF_ENDPOINT;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new LodeError("USAGE", `HF_ENDPOINT is not a URL: "${raw}"`, {
      hint: "Set HF_ENDPOINT to the base URL of a Hugging Face mirror, like https://hf-mirror.example.",
    });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new LodeError("USAGE", `HF_ENDPOINT must be an https URL, got "${raw}"`);
  }
  url.pathname = url.pathname.replace(/\/+$/, "");
  url.search = "";
  url.hash = "";
  return url;
}

/** `HF_TOKEN`, or undefined when unset or blank. */
export function hubToken(settings: RegistrySettings): string | undefined {
  return settings.hfToken?.trim() || undefined;
}

/** The request headers carrying credentials for `url`: `HF_TOKEN` on the Hub endpoint's origin, else none. */
export function credentialsFor(
  url: string | URL,
  settings: RegistrySettings,
): Record<string, string> | undefined {
  const token = hubToken(settings);
  if (!token) return undefined;
  return new URL(url).origin === hubEndpoint(settings).origin
    ? { authorization: `Bearer ${token}` }
    : undefined;
}

/**
 * The credentials of a run for `host`, asked of the registry that made a plan (its `source.registry`: a
 * registry's id, or a registry plugin's name or scheme): request headers, or null when it gives none.
 * The composition root answers with the registries' `registry.credentials` hook.
 */
export type CredentialsLookup = (registry: string, host: string) => Promise<Record<string, string> | null>;

/** `HF_TOKEN` for the Hub endpoint's own host (`name:port` as in a URL), else null. */
export function hubCredentials(host: string, settings: RegistrySettings): Record<string, string> | null {
  const token = hubToken(settings);
  return token && hubEndpoint(settings).host === host ? { authorization: `Bearer ${token}` } : null;
}

/** The credentials `settings` hold, for a run without registry hooks: the Hub's token, for the Hub's plans. */
export function settingsCredentials(settings: RegistrySettings): CredentialsLookup {
  return (registry, host) =>
    Promise.resolve(registry === "huggingface" ? hubCredentials(host, settings) : null);
}

/**
 * `plan` with the credentials `lookup` gives its registry for each host of its URLs (mirrors too), each
 * applied to the URLs on that host only ({@link withHostCredentials}); and the hosts that got some.
 */
export async function withRegistryCredentials<P extends PlanLike>(
  plan: P,
  lookup: CredentialsLookup,
): Promise<{ plan: P; hosts: ReadonlySet<string> }> {
  const urls = plan.files.flatMap((f) => [f.url, ...(f.mirrors ?? [])]);
  const byHost = new Map<string, Record<string, string>>();
  for (const host of new Set(urls.map((u) => new URL(u).host))) {
    const headers = await lookup(plan.source.registry, host);
    if (headers !== null) byHost.set(host, headers);
  }
  return { plan: byHost.size ? withHostCredentials(plan, byHost) : plan, hosts: new Set(byHost.keys()) };
}

type PlanLike = { files: PlannedFile[]; source: { registry: string } };

/**
 * `plan` with a registry's credentials for hosts (`host` as in a URL: name and optional port): each file
 * gets, as its `hostHeaders`, the headers of each host of `byHost` that one of its URLs (`url`, mirrors)
 * is on. The download core sends them to the URLs on that host only, never to a redirect elsewhere; a
 * host the registry did not name gets nothing.
 */
export function withHostCredentials<P extends { files: PlannedFile[] }>(
  plan: P,
  byHost: ReadonlyMap<string, Record<string, string>>,
): P {
  return {
    ...plan,
    files: plan.files.map((file) => {
      const hosts = [file.url, ...(file.mirrors ?? [])].map((u) => new URL(u).host);
      const entries = [...new Set(hosts)].flatMap((h) => {
        const headers = byHost.get(h);
        return headers ? [[h, headers] as const] : [];
      });
      return entries.length ? { ...file, hostHeaders: Object.fromEntries(entries) } : file;
    }),
  };
}
