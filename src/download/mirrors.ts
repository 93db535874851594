/**
 * Mirrors: a planned file may name several URLs of the same bytes (`url`, then `mirrors`), tried in
 * order. The next URL is tried only after a failure another origin may not have — the origin's own
 * answer or the path to it — never after one that is local or final (a cancel, a full disk, offline):
 *
 * - `NETWORK`, `STALLED` (after their retries): the host is down, refuses or resets connections;
 * - `TLS`: that host's certificate or handshake;
 * - `HTTP_NOT_FOUND` (404/410), `HTTP_STATUS` (a 5xx after its retries, any other status),
 *   `ACCESS_DENIED`: that origin's answer;
 * - `SIZE_MISMATCH`: that origin serves another size than the plan's;
 * - `ORIGIN_CHANGED` (the second time): that origin's file keeps changing;
 * - `DIGEST_MISMATCH`: that origin's bytes are wrong (they are quarantined, the partial removed);
 * - `HOST_NOT_ALLOWED`, `INSECURE_URL`: that mirror, or where it redirects, is refused by the policy.
 *
 * Anything else (`INTERRUPTED`, `OFFLINE`, `INSUFFICIENT_SPACE`, `IO`, lock and store errors) fails
 * the file at once: another URL cannot fix it. Credentials (`headers`) go only to URLs on the origin
 * of `url`, the origin they were given for; a mirror elsewhere gets none. Credentials by host
 * (`hostHeaders`, a registry plugin's) go to the https URLs on their host, whichever place they have.
 *
 * @example
 * ```ts
 * import { fileSources, publicUrl } from "./mirrors.ts";
 * const sources = fileSources({
 *   url: "https://huggingface.co/o/r/resolve/abc/m.gguf",
 *   mirrors: ["https://mirror.example/m.gguf?token=x"],
 *   headers: { authorization: "Bearer hf_x" },
 * });
 * sources[1]!.headers; // undefined: another origin
 * publicUrl(sources[1]!.url); // "https://mirror.example/m.gguf"
 * ```
 * @module
 */
import { type ErrorCode, type LodeError, toLodeError } from "../errors.ts";
import type { PullContext } from "./pull_context.ts";

/** One URL of a file, with the credentials that may be sent to it. */
export interface FileSource {
  url: string;
  headers?: Record<string, string>;
}

/** The URLs of a file in the order they are tried: `url`, then each mirror (duplicates dropped). */
export function fileSources(
  file: {
    url: string;
    mirrors?: readonly string[];
    headers?: Record<string, string>;
    hostHeaders?: Record<string, Record<string, string>>;
  },
): FileSource[] {
  const byHost = (url: string, headers: Record<string, string> | undefined) => {
    const host = file.hostHeaders?.[hostOf(url) ?? ""];
    return host ? { ...headers, ...host } : headers;
  };
  const first: FileSource = { url: file.url, headers: byHost(file.url, file.headers) };
  if (!file.mirrors?.length) return [first];
  const origin = originOf(file.url);
  const seen = new Set([file.url]);
  const out = [first];
  for (const url of file.mirrors) {
    if (seen.has(url)) continue;
    seen.add(url);
    out.push({
      url,
      headers: byHost(url, file.headers && originOf(url) === origin ? file.headers : undefined),
    });
  }
  return out;
}

/** The host of an https URL (credentials by host never travel in clear text); null otherwise. */
function hostOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" ? parsed.host : null;
  } catch {
    return null;
  }
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

const MOVES_ON: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "NETWORK",
  "STALLED",
  "TLS",
  "HTTP_NOT_FOUND",
  "HTTP_STATUS",
  "ACCESS_DENIED",
  "SIZE_MISMATCH",
  "ORIGIN_CHANGED",
  "DIGEST_MISMATCH",
  "HOST_NOT_ALLOWED",
  "INSECURE_URL",
]);

/** True when another URL of the same bytes may succeed where this failure happened (see the module comment). */
export function movesToNextMirror(error: LodeError): boolean {
  return MOVES_ON.has(error.code);
}

/**
 * Runs `attempt` with each URL of `file` in turn until one succeeds; a failure that another origin
 * may not have ({@link movesToNextMirror}) emits `mirror_failed` and moves on. When every URL failed,
 * the last URL's error is thrown, its `details.mirrors` naming each URL tried and its error code.
 */
export async function fromMirrors<T>(
  file: { filename: string; url: string; mirrors?: readonly string[]; headers?: Record<string, string> },
  ctx: Pick<PullContext, "emit" | "signal">,
  model: string,
  attempt: (source: FileSource) => Promise<T>,
): Promise<T> {
  const sources = fileSources(file);
  const tried: { url: string; code: string }[] = [];
  for (let i = 0;; i++) {
    const source = sources[i]!;
    try {
      return await attempt(source);
    } catch (e) {
      const error = toLodeError(e);
      tried.push({ url: publicUrl(source.url), code: error.code });
      const next = sources[i + 1];
      if (!next || ctx.signal?.aborted || !movesToNextMirror(error)) {
        if (tried.length > 1) error.details.mirrors = tried;
        throw error;
      }
      const status = Number(error.details.status);
      ctx.emit?.({
        event: "mirror_failed",
        model,
        filename: file.filename,
        url: publicUrl(source.url),
        code: error.code,
        ...(Number.isInteger(status) ? { status } : {}),
        next_url: publicUrl(next.url),
      });
    }
  }
}

/** `url` without credentials, query or fragment: what events and messages may show of a mirror. */
export function publicUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(not a URL)";
  }
}
