/**
 * Web origins as settings name them (`lode serve --allow-origin ORIGIN`, the config file's
 * `allow_origins`): `scheme://host[:port]` of an http or https page, normalized (lower case, the
 * default port dropped, a trailing `/` allowed) — the form browsers send in `Origin`.
 *
 * @example
 * ```ts
 * import { originOf } from "./config_origins.ts";
 * originOf("HTTPS://App.Example.com:443/"); // "https://app.example.com"
 * originOf("https://app.example.com/page"); // null: a page, not an origin
 * ```
 * @module
 */

/** What an origin setting must look like, for messages. */
export const ORIGIN_FORM =
  "a web origin: scheme, host and port only, as https://app.example.com or http://localhost:5173";

/**
 * The origin `text` names, normalized, or null when it is not an http(s) origin (a path, a query or
 * credentials make it something else).
 *
 * @example
 * ```ts
 * originOf("http://localhost:5173"); // "http://localhost:5173"
 * ```
 */
export function originOf(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") return null;
  if (url.pathname !== "/" || text.includes("?") || text.includes("#")) return null;
  return url.origin;
}
