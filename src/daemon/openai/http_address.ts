/**
 * The address of the OpenAI-compatible HTTP front (`lode serve --http
 * ADDRESS`): `HOST:PORT`, `[IPV6]:PORT`, `:PORT` or `PORT` (both meaning
 * 127.0.0.1). The front answers anyone who can reach it and has no accounts,
 * so it listens on loopback only: any other host is refused unless the
 * caller says it is meant ({@link HttpAddressOptions.allowRemote}, the
 * `--http-allow-remote` flag).
 *
 * @example
 * ```ts
 * import { parseHttpAddress } from "./http_address.ts";
 * parseHttpAddress("127.0.0.1:8080"); // { hostname: "127.0.0.1", port: 8080 }
 * parseHttpAddress("8080"); // { hostname: "127.0.0.1", port: 8080 }
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";

/** A host and port to listen on. */
export interface HttpAddress {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
}

/** Options of {@link parseHttpAddress} and {@link checkListenHost}. */
export interface HttpAddressOptions {
  /** Accept a host that is not loopback (the server is then reachable from the network). Default false. */
  allowRemote?: boolean;
}

/**
 * Parses `--http`'s value; throws `LodeError("USAGE")` for a malformed one,
 * a port out of 0–65535, or (without `allowRemote`) a host that is not
 * loopback.
 *
 * @example
 * ```ts
 * parseHttpAddress("[::1]:11435"); // { hostname: "::1", port: 11435 }
 * parseHttpAddress("0.0.0.0:8080"); // throws USAGE: not a loopback address
 * parseHttpAddress("0.0.0.0:8080", { allowRemote: true }); // { hostname: "0.0.0.0", port: 8080 }
 * ```
 */
export function parseHttpAddress(text: string, options: HttpAddressOptions = {}): HttpAddress {
  const value = text.trim();
  let hostname: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  if (v6) {
    hostname = v6[1]!;
    portText = v6[2]!;
  } else if (/^\d+$/.test(value)) {
    hostname = "127.0.0.1";
    portText = value;
  } else {
    const colon = value.lastIndexOf(":");
    if (colon < 0 || value.indexOf(":") !== colon) throw usage(text);
    hostname = value.slice(0, colon) || "127.0.0.1";
    portText = value.slice(colon + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw usage(text);
  checkListenHost(hostname, options);
  return { hostname, port };
}

/**
 * Throws `LodeError("USAGE")` unless `hostname` is loopback or `allowRemote` is set.
 *
 * @example
 * ```ts
 * checkListenHost("localhost"); // ok
 * checkListenHost("192.168.1.5"); // throws
 * ```
 */
export function checkListenHost(hostname: string, options: HttpAddressOptions = {}): void {
  if (options.allowRemote || isLoopbackHost(hostname)) return;
  throw new LodeError(
    "USAGE",
    `--http ${hostname}: not a loopback address; the HTTP front has no authentication and listens on ` +
      `127.0.0.1, ::1 or localhost only`,
    {
      details: { hostname },
      hint:
        "Use --http 127.0.0.1:PORT, or add --http-allow-remote if every host that can reach it may use your models.",
    },
  );
}

/**
 * True for `localhost` (and `*.localhost`), 127.0.0.0/8 and `::1` (with or
 * without brackets).
 *
 * @example
 * ```ts
 * isLoopbackHost("127.0.0.2"); // true
 * isLoopbackHost("[::1]"); // true
 * isLoopbackHost("example.com"); // false
 * ```
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return v4 !== null && v4.slice(1).every((n) => Number(n) <= 255);
}

/**
 * The host name of a `Host` header value (`127.0.0.1:8080`, `[::1]:80`, `localhost`).
 *
 * @example
 * ```ts
 * hostOfHeader("[::1]:8080"); // "::1"
 * ```
 */
export function hostOfHeader(value: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (v6) return v6[1]!;
  const colon = value.lastIndexOf(":");
  return colon >= 0 && value.indexOf(":") === colon ? value.slice(0, colon) : value;
}

function usage(text: string): LodeError {
  return new LodeError("USAGE", `--http ${JSON.stringify(text)}: expected HOST:PORT, [IPV6]:PORT or PORT`, {
    details: { value: text },
    hint: "Give an address like 127.0.0.1:8080 (port 0 picks a free one).",
  });
}
