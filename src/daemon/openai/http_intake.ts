/**
 * What the HTTP front checks before it answers a request: that it comes
 * from this machine (a loopback `Host`, no foreign `Origin`: a page on
 * another site, or a DNS-rebound name, cannot use a loopback server), that it
 * carries the API key when one is set, that its body is JSON within the
 * size limit; and the segments of its path.
 * @module
 */
import { LodeError } from "../../errors.ts";
import { hostOfHeader, isLoopbackHost } from "./http_address.ts";
import { HttpRefusal } from "./error_response.ts";

/** Options of {@link checkClient}. */
export interface ClientCheck {
  /** Accept any `Host` and `Origin` (a server meant for the network). */
  allowRemote: boolean;
  /** When set, `Authorization: Bearer <apiKey>` is required. */
  apiKey?: string;
  /** Web origins allowed besides loopback ones (cors.ts); default loopback only. */
  allowOrigin?: (origin: string) => boolean;
}

/**
 * Throws `ACCESS_DENIED` (403) for a non-loopback `Host`, or an `Origin` that
 * is neither loopback nor allowed, unless `allowRemote`; (401) for a missing
 * or wrong API key.
 *
 * @example
 * ```ts
 * checkClient(new Request("http://127.0.0.1:8080/v1/models"), { allowRemote: false }); // ok
 * ```
 */
export function checkClient(req: Request, check: ClientCheck): void {
  if (!check.allowRemote) {
    const host = req.headers.get("host") ?? new URL(req.url).host;
    if (!isLoopbackHost(hostOfHeader(host))) {
      throw forbidden(`the Host header ${JSON.stringify(host)} is not a loopback name`);
    }
    const origin = req.headers.get("origin");
    if (origin !== null && !(check.allowOrigin ?? isLoopbackOrigin)(origin)) {
      throw new LodeError(
        "ACCESS_DENIED",
        `requests from the web page ${JSON.stringify(origin)} are refused`,
        {
          details: { origin },
          hint: "Pages on loopback origins (http://localhost:PORT) may call this server; start it with " +
            "--allow-origin ORIGIN (or allow_origins in the config file) to allow another one.",
        },
      );
    }
  }
  if (check.apiKey !== undefined) {
    if (!sameSecret(req.headers.get("authorization") ?? "", `Bearer ${check.apiKey}`)) {
      throw new HttpRefusal(401, "ACCESS_DENIED", "a valid API key is required", {
        hint: "Send the daemon's key as `Authorization: Bearer KEY` (the openai client's apiKey).",
      });
    }
  }
}

/**
 * The request's body parsed as JSON; `FRAME_TOO_LARGE` (413) past `limit`
 * bytes (read no further), `BAD_JSON` (400) when it is not UTF-8 JSON.
 *
 * @example
 * ```ts
 * await readJsonBody(new Request("http://x/", { method: "POST", body: '{"a":1}' }), 1024); // { a: 1 }
 * ```
 */
export async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  const tooLarge = () =>
    new LodeError("FRAME_TOO_LARGE", `the request body is longer than the limit of ${limit} bytes`, {
      details: { limit },
      hint: "Send a smaller body: split the input into several requests.",
    });
  if (Number(req.headers.get("content-length") ?? 0) > limit) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (req.body) {
    for await (const part of req.body) {
      total += part.length;
      if (total > limit) throw tooLarge();
      chunks.push(part);
    }
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new LodeError("BAD_JSON", `the request body is not JSON: ${(e as Error).message}`, {
      hint: "Send a JSON object (Content-Type: application/json); docs/protocol.md lists the fields.",
    });
  }
}

function forbidden(message: string): LodeError {
  return new LodeError("ACCESS_DENIED", message, {
    hint: "This server answers only clients on this machine (connect to 127.0.0.1 or localhost); " +
      "start it with --http-allow-remote to lift that.",
  });
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    return isLoopbackHost(new URL(origin).hostname);
  } catch {
    return false;
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < y.length; i++) diff |= (x[i] ?? 0) ^ y[i]!;
  return diff === 0;
}

/**
 * The segments of `path` after `prefix`, each percent-decoded (one that does not decode is kept as sent:
 * it names nothing, which the caller's lookup says).
 *
 * @example
 * ```ts
 * pathSegments("/v1/files/file-1/content", "/v1/files"); // ["file-1", "content"]
 * ```
 */
export function pathSegments(path: string, prefix: string): string[] {
  return path.slice(prefix.length).split("/").filter((s) => s !== "").map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
}
