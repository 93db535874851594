/**
 * The flags of `lode serve` (as option specs, help is generated from them,
 * and as a parser into the daemon's settings), and where the daemon's
 * sockets are: `--socket` / `--admin-socket`, else the defaults of
 * src/daemon/wire/socket_path.ts (`$XDG_RUNTIME_DIR/lode/`, else
 * `${TMPDIR:-/tmp}/lode-<uid>/`).
 *
 * Loaded by src/cli/program.ts for every command: it imports nothing heavy.
 *
 * @example
 * ```ts
 * import { parseServeFlags, socketPaths } from "./daemon_flags.ts";
 * const settings = parseServeFlags({ maxQueue: "16", keepAlive: "10m" });
 * const paths = socketPaths({ socket: "/tmp/l.sock" }, {});
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { absolutePath } from "../path.ts";
import { parseDuration } from "../store/gc_duration.ts";
import { type DaemonPaths, defaultDaemonPaths, instanceLockPath } from "../daemon/wire/socket_path.ts";
import { parseHttpAddress } from "../daemon/openai/http_address.ts";
import { parseOrigins } from "../daemon/openai/cors.ts";
import type { OptionSpec, OptionValues } from "./args.ts";

/**
 * `--socket PATH`: the daemon's inference socket (serve, status, run/chat/embed).
 *
 * @example
 * ```ts
 * import { SOCKET_OPTION } from "./daemon_flags.ts";
 * SOCKET_OPTION.name; // "socket"
 * ```
 */
export const SOCKET_OPTION: OptionSpec = {
  name: "socket",
  type: "string",
  value: "<path>",
  description: "the daemon's inference socket (default: $XDG_RUNTIME_DIR/lode/lode.sock)",
};

/**
 * `--admin-socket PATH`.
 *
 * @example
 * ```ts
 * import { ADMIN_SOCKET_OPTION } from "./daemon_flags.ts";
 * ADMIN_SOCKET_OPTION.name; // "admin-socket"
 * ```
 */
export const ADMIN_SOCKET_OPTION: OptionSpec = {
  name: "admin-socket",
  type: "string",
  value: "<path>",
  description: "the daemon's status stream socket (default: admin.sock, or SOCKET.admin.sock with --socket)",
};

/**
 * `--no-daemon` of run/chat/embed.
 *
 * @example
 * ```ts
 * import { DAEMON_OPTION } from "./daemon_flags.ts";
 * DAEMON_OPTION.negatable; // true
 * ```
 */
export const DAEMON_OPTION: OptionSpec = {
  name: "daemon",
  type: "boolean",
  negatable: true,
  description: "load the model in this process even when a `lode serve` daemon of this store is running",
};

/**
 * The options of `lode serve` (besides the load options and the sockets).
 *
 * @example
 * ```ts
 * import { SERVE_OPTIONS } from "./daemon_flags.ts";
 * SERVE_OPTIONS.some((o) => o.name === "max-queue"); // true
 * ```
 */
export const SERVE_OPTIONS: OptionSpec[] = [
  {
    name: "model",
    short: "m",
    type: "list",
    value: "<name>",
    description: "load this stored model before announcing ready; repeatable",
  },
  {
    name: "max-queue",
    type: "string",
    value: "<n>",
    default: "64",
    description: "requests that may wait for a model; beyond, QUEUE_FULL at once",
  },
  {
    name: "parallel",
    type: "string",
    value: "<n>",
    default: "1",
    description: "requests per model at once, decoded together (n sequences of --ctx-size each)",
  },
  {
    name: "max-loaded",
    type: "string",
    value: "<n>",
    default: "3",
    description: "models loaded at once (LRU)",
  },
  {
    name: "keep-alive",
    type: "string",
    value: "<duration>",
    default: "5m",
    description: "unload a model idle this long: 30s, 5m, 1h (0s: at once)",
  },
  {
    name: "grace",
    type: "string",
    value: "<duration>",
    default: "30s",
    description: "on SIGTERM/SIGINT, how long in-flight requests may finish before they are stopped",
  },
  {
    name: "log",
    type: "string",
    value: "<file>",
    description: "append one NDJSON line per request to this file",
  },
  {
    name: "log-prompts",
    type: "boolean",
    description: "also log prompts, messages and generated text (off: counts and timings only)",
  },
  {
    name: "log-max-bytes",
    type: "string",
    value: "<n>",
    default: "10485760",
    description: "rotate the log when it would grow past this size",
  },
  {
    name: "log-keep",
    type: "string",
    value: "<n>",
    default: "3",
    description: "rotated logs kept (FILE.1 … FILE.N)",
  },
  {
    name: "http",
    type: "string",
    value: "<[host:]port>",
    description: "also serve the OpenAI-compatible API on http://HOST:PORT/v1 (loopback; host 127.0.0.1)",
  },
  {
    name: "http-allow-remote",
    type: "boolean",
    description:
      "let --http listen on a non-loopback address (it has no accounts: anyone who reaches it can use it)",
  },
  {
    name: "allow-origin",
    type: "list",
    value: "<origin>",
    description:
      "let web pages of this origin call --http (loopback origins always may); repeatable, as https://app.example.com",
  },
  {
    name: "tokenize-in-runner",
    type: "boolean",
    description:
      "tokenize in the runner processes, not in the daemon (slower; saves the daemon the ~50 MB of llama.cpp)",
  },
];

/**
 * The daemon's settings from the serve flags.
 *
 * @example
 * ```ts
 * import type { ServeSettings } from "./daemon_flags.ts";
 * const logging = (s: ServeSettings) => s.log?.path ?? "no activity log";
 * ```
 */
export interface ServeSettings {
  models: string[];
  maxQueue: number;
  parallel: number;
  maxLoaded: number;
  keepAliveMs: number;
  graceMs: number;
  log: { path: string; logPrompts: boolean; maxBytes: number; keep: number } | null;
  /** `--http`: where the OpenAI-compatible front listens, or null. */
  http: { hostname: string; port: number; allowRemote: boolean; allowOrigins: string[] } | null;
  /** False with `--tokenize-in-runner`: loaded models' vocabularies are not opened in the daemon. */
  tokenizeInDaemon: boolean;
}

/**
 * Parses the serve flags; `USAGE` naming the flag for a bad value.
 *
 * @example
 * ```ts
 * import { parseServeFlags } from "./daemon_flags.ts";
 * parseServeFlags({ maxQueue: "8", parallel: "2" }).parallel; // 2
 * ```
 */
export function parseServeFlags(values: OptionValues): ServeSettings {
  const log = values.log as string | undefined;
  return {
    models: (values.model as string[] | undefined) ?? [],
    maxQueue: whole("--max-queue", values.maxQueue ?? "64", 0),
    parallel: whole("--parallel", values.parallel ?? "1", 1),
    maxLoaded: whole("--max-loaded", values.maxLoaded ?? "3", 1),
    keepAliveMs: duration("--keep-alive", values.keepAlive ?? "5m"),
    graceMs: duration("--grace", values.grace ?? "30s"),
    log: log === undefined ? null : {
      path: log,
      logPrompts: values.logPrompts === true,
      maxBytes: whole("--log-max-bytes", values.logMaxBytes ?? "10485760", 1024),
      keep: whole("--log-keep", values.logKeep ?? "3", 0),
    },
    http: httpFlag(values),
    tokenizeInDaemon: values.tokenizeInRunner !== true,
  };
}

function httpFlag(values: OptionValues): ServeSettings["http"] {
  const text = values.http as string | undefined;
  const allowRemote = values.httpAllowRemote === true;
  const origins = (values.allowOrigin as string[] | undefined) ?? [];
  if (text === undefined) {
    if (allowRemote) throw new LodeError("USAGE", "--http-allow-remote needs --http [HOST:]PORT");
    if (origins.length > 0) throw new LodeError("USAGE", "--allow-origin needs --http [HOST:]PORT");
    return null;
  }
  return {
    ...parseHttpAddress(text, { allowRemote }),
    allowRemote,
    allowOrigins: parseOrigins(origins, "--allow-origin"),
  };
}

/**
 * The daemon's socket paths: `--socket` (its lock beside it) and
 * `--admin-socket` (default with `--socket X.sock`: `X.admin.sock`), else
 * the per-user defaults. `useDefaultDir` says the default directory is used
 * (and must be made `0700`).
 *
 * @example
 * ```ts
 * import { socketPaths } from "./daemon_flags.ts";
 * socketPaths({}, { runtimeDir: "/run/user/1000" }, 1000).socket; // "/run/user/1000/lode/lode.sock"
 * ```
 */
export function socketPaths(
  values: OptionValues,
  dirs: { runtimeDir?: string; tmpDir?: string },
  uid: number | null = Deno.uid(),
): DaemonPaths & { useDefaultDir: boolean } {
  const defaults = defaultDaemonPaths({ runtimeDir: dirs.runtimeDir, tmpDir: dirs.tmpDir, uid });
  const socket = values.socket as string | undefined;
  const admin = values.adminSocket as string | undefined;
  if (socket === undefined) {
    return { ...defaults, ...(admin === undefined ? {} : { adminSocket: admin }), useDefaultDir: true };
  }
  const dir = socket.includes("/") ? socket.slice(0, socket.lastIndexOf("/")) || "/" : ".";
  return {
    dir,
    socket,
    adminSocket: admin ?? `${socket.replace(/\.sock$/, "")}.admin.sock`,
    lock: instanceLockPath(socket),
    useDefaultDir: false,
  };
}

function whole(flag: string, value: unknown, min: number): number {
  const text = String(value).trim();
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new LodeError("USAGE", `${flag} must be a whole number, ${min} or more; got "${value}"`, {
      details: { flag, value },
    });
  }
  return n;
}

function duration(flag: string, value: unknown): number {
  try {
    return parseDuration(String(value));
  } catch (e) {
    throw new LodeError("USAGE", `${flag}: ${(e as Error).message}`, {
      details: { flag, value },
      hint: "Write a number and a unit: 30s, 5m, 1h (s, m, h, d, w).",
    });
  }
}

/**
 * How a store is named between a client and the daemon: its absolute path.
 *
 * @example
 * ```ts
 * import { storeIdentity } from "./daemon_flags.ts";
 * storeIdentity("/models/../models"); // "/models"
 * ```
 */
export function storeIdentity(root: string): string {
  return absolutePath(root);
}
