/**
 * The only reader of environment variables, global flags and the config file.
 * Everything else receives a {@link Config}.
 *
 * | source                     | setting                                   |
 * | -------------------------- | ----------------------------------------- |
 * | `--store`, `MODELS_HOME`   | store root (default `$XDG_DATA_HOME/models`, i.e. `~/.local/share/models`) |
 * | `--ca-cert`, `DENO_CERT`   | extra trusted CA certificates (PEM files) |
 * | `--allow-host`, `LODE_ALLOW_HOSTS` | hosts allowed besides the ones named in a reference (comma-separated) |
 * | `--allow-http`, `LODE_ALLOW_HTTP`  | hosts allowed over plain http             |
 * | `--offline`, `LODE_OFFLINE=1`      | no network at all                         |
 * | `LODE_MIN_FREE_BYTES`      | free-space cushion kept by the disk preflight |
 * | `HTTPS_PROXY`, `https_proxy` (else `ALL_PROXY`, `all_proxy`) | proxy for https URLs |
 * | `HTTP_PROXY`, `http_proxy` (else `ALL_PROXY`, `all_proxy`)   | proxy for http URLs (`HTTP_PROXY` is ignored when `REQUEST_METHOD` is set: CGI) |
 * | `NO_PROXY`, `no_proxy`     | hosts that bypass the proxy (see `src/download/proxy.ts`) |
 * | `--connections`, `LODE_CONNECTIONS` | connections per file (default `auto`: measured, up to 16) |
 * | `LODE_RETRIES`             | attempts per request before giving up (default 6) |
 * | `LODE_STALL_SECONDS`       | no byte for this long restarts a part (default 30) |
 * | `LODE_HTTP_CLIENT`         | `http1` (default: lode's own client for direct connections) or `fetch` |
 * | `HF_ENDPOINT`, `HF_TOKEN`  | the Hugging Face Hub and its access token (src/registry/huggingface.ts) |
 * | `LODE_OCI_USERNAME`, `LODE_OCI_PASSWORD`, `DOCKER_CONFIG` | OCI registry credentials (src/registry/oci/docker_config.ts) |
 * | `LODE_PUSH_CHUNK_BYTES`    | bytes per PATCH of a `lode push` upload (default 64 MiB) |
 * | `LODE_LOCKFILE`            | the lockfile when `--lockfile` is not given (default `./lode.lock`) |
 * | `XDG_RUNTIME_DIR`, `TMPDIR` | where the daemon's sockets live (src/daemon/wire/socket_path.ts) |
 * | `NO_COLOR`                 | no colours                                |
 * | `LODE_DEBUG`               | an `INTERNAL` error also prints its stack trace |
 * | `--sink`, `LODE_WEBHOOK_SECRET` | event sinks of pull, sync, serve and job (src/config_sinks.ts) |
 * | `$XDG_CONFIG_HOME/lode/config.json` (or `LODE_CONFIG`) | `{store, allow_hosts, allow_http, ca_certs, min_free_bytes, sinks, allow_origins}` |
 * | `$XDG_CONFIG_HOME/lode/plugins/<name>/` | installed plugins (`lode plugin add`); `--plugin DIR` adds one for a command |
 *
 * Flags win over environment variables, which win over the config file. The layers below take
 * these values; they read no environment variable themselves. (config_env.ts reads the proxy
 * variables and the settings the CLI needs before the config is loaded.)
 *
 * @example
 * ```ts
 * const config = await loadConfig({ store: "/tmp/s" }, Deno.env.toObject());
 * ```
 * @module
 */
import { joinPath } from "./path.ts";
import { z } from "zod";
import { LodeError } from "./errors.ts";
import { parseJson } from "./schema/schema_error.ts";
import { cliSettings, homeDir, pluginsDirOf, type ProxyConfig, proxyFromEnv } from "./config_env.ts";
import { SinkEntry, sinkFlag, sinkFromEntry, type SinkSpec } from "./config_sinks.ts";
import { ORIGIN_FORM, originOf } from "./config_origins.ts";

/** Flags shared by every command. */
export interface GlobalFlags {
  store?: string;
  caCert?: string[];
  allowHost?: string[];
  allowHttp?: string[];
  offline?: boolean;
  connections?: string;
  /** `--sink` (pull, sync, serve and job): `webhook=URL` or `file=PATH`, repeatable. */
  sink?: string[];
  /** `--plugin DIR` (repeatable): plugins loaded for this one command. */
  plugin?: string[];
}

/** Resolved settings. */
export interface Config {
  storeRoot: string;
  caCertPaths: string[];
  caCertPems: string[];
  allowHosts: string[];
  httpHosts: string[];
  offline: boolean;
  /** Free space the disk preflight keeps; unset: the download layer's default. */
  cushionBytes?: number;
  /** Connections per file, or `"auto"` (chosen by measurement). */
  connections: number | "auto";
  /** Attempts per request. */
  retries: number;
  /** Stall watchdog, milliseconds. */
  stallMs: number;
  /** Bytes per PATCH of a `lode push` upload (`LODE_PUSH_CHUNK_BYTES`, default 64 MiB). */
  pushChunkBytes: number;
  /** `fetch` sends every request with Deno's fetch; `http1` (default) direct ones with lode's HTTP/1.1 client. */
  httpClient: "http1" | "fetch";
  color: boolean;
  configFile: string | null;
  /** Where installed plugins live, one folder each: `$XDG_CONFIG_HOME/lode/plugins` (`lode plugin add`). */
  pluginsDir: string;
  /** Proxies from the environment; `{ noProxy: [] }` when none is set. URLs may carry credentials. */
  proxy: ProxyConfig;
  /** `HF_ENDPOINT`: the Hugging Face Hub to use instead of huggingface.co. */
  hfEndpoint?: string;
  /** `HF_TOKEN`: the Hub's access token. */
  hfToken?: string;
  /** `LODE_OCI_USERNAME`: the user name for the OCI registry of the reference being pulled. */
  ociUsername?: string;
  /** `LODE_OCI_PASSWORD`: its password or token. */
  ociPassword?: string;
  /** `DOCKER_CONFIG`, else `~/.docker`: where Docker's `config.json` (registry logins) is read. */
  dockerConfigDir?: string;
  /** `LODE_LOCKFILE`: the lockfile when no `--lockfile` is given. */
  lockfile?: string;
  /** `XDG_RUNTIME_DIR`: the per-user runtime directory (the daemon's sockets). */
  runtimeDir?: string;
  /** `TMPDIR`: the temporary directory (the daemon's sockets without a runtime directory). */
  tmpDir?: string;
  /** `LODE_DEBUG`: an `INTERNAL` error also prints its stack trace. */
  debug: boolean;
  /** Event sinks: the config file's `sinks`, then `--sink` (attached by pull, sync, serve and job). */
  sinks: SinkSpec[];
  /** The config file's `allow_origins`: web origins `lode serve --http` answers besides loopback ones (normalized). */
  allowOrigins: string[];
}

const ConfigFile = z.object({
  store: z.string().optional(),
  allow_hosts: z.array(z.string()).optional(),
  allow_http: z.array(z.string()).optional(),
  ca_certs: z.array(z.string()).optional(),
  min_free_bytes: z.number().int().nonnegative().optional(),
  sinks: z.array(SinkEntry).optional(),
  allow_origins: z.array(z.string().refine((s) => originOf(s) !== null, `expected ${ORIGIN_FORM}`))
    .optional(),
}).strict();

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new LodeError("USAGE", `${name} must be a positive whole number, got "${value}"`);
  }
  return Number(value);
}

function list(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

async function readConfigFile(path: string): Promise<z.infer<typeof ConfigFile> | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new LodeError("IO", `cannot read config file ${path}: ${(e as Error).message}`);
  }
  return parseJson(ConfigFile, text, { code: "CONFIG_INVALID", subject: `config file ${path}`, file: path });
}

/** Reads flags, environment and config file into one {@link Config}. */
export async function loadConfig(
  flags: GlobalFlags,
  env: Record<string, string | undefined>,
): Promise<Config> {
  const xdgConfig = env.XDG_CONFIG_HOME || joinPath(homeDir(env), ".config");
  const configPath = env.LODE_CONFIG || joinPath(xdgConfig, "lode", "config.json");
  const file = await readConfigFile(configPath);
  if (env.LODE_CONFIG && !file) {
    throw new LodeError("USAGE", `LODE_CONFIG names ${env.LODE_CONFIG}, which does not exist`, {
      details: { path: env.LODE_CONFIG },
    });
  }
  const xdgData = env.XDG_DATA_HOME || joinPath(homeDir(env), ".local", "share");
  const caCertPaths = [
    ...(flags.caCert ?? []),
    ...(env.DENO_CERT ? [env.DENO_CERT] : []),
    ...(file?.ca_certs ?? []),
  ];
  const caCertPems: string[] = [];
  for (const path of caCertPaths) {
    try {
      caCertPems.push(await Deno.readTextFile(path));
    } catch (e) {
      throw new LodeError("USAGE", `cannot read CA certificate ${path}: ${(e as Error).message}`, {
        details: { path },
      });
    }
  }
  const proxy = proxyFromEnv(env);
  const minFree = env.LODE_MIN_FREE_BYTES;
  if (minFree !== undefined && !/^\d+$/.test(minFree)) {
    throw new LodeError("USAGE", `LODE_MIN_FREE_BYTES must be a number of bytes, got "${minFree}"`);
  }
  return {
    storeRoot: flags.store || env.MODELS_HOME || file?.store || joinPath(xdgData, "models"),
    caCertPaths,
    caCertPems,
    allowHosts: [...(flags.allowHost ?? []), ...list(env.LODE_ALLOW_HOSTS), ...(file?.allow_hosts ?? [])],
    httpHosts: [...(flags.allowHttp ?? []), ...list(env.LODE_ALLOW_HTTP), ...(file?.allow_http ?? [])],
    offline: flags.offline === true || env.LODE_OFFLINE === "1" || env.LODE_OFFLINE === "true",
    cushionBytes: minFree !== undefined ? Number(minFree) : file?.min_free_bytes,
    connections: (flags.connections ?? env.LODE_CONNECTIONS ?? "auto") === "auto"
      ? "auto"
      : positiveInt("--connections", flags.connections ?? env.LODE_CONNECTIONS, 1),
    retries: positiveInt("LODE_RETRIES", env.LODE_RETRIES, 6),
    stallMs: positiveInt("LODE_STALL_SECONDS", env.LODE_STALL_SECONDS, 30) * 1000,
    pushChunkBytes: positiveInt("LODE_PUSH_CHUNK_BYTES", env.LODE_PUSH_CHUNK_BYTES, 64 * 1024 * 1024),
    httpClient: httpClientChoice(env.LODE_HTTP_CLIENT),
    color: cliSettings(env).color,
    configFile: file ? configPath : null,
    pluginsDir: pluginsDirOf(env),
    proxy,
    hfEndpoint: env.HF_ENDPOINT?.trim() || undefined,
    hfToken: env.HF_TOKEN?.trim() || undefined,
    ociUsername: env.LODE_OCI_USERNAME || undefined,
    ociPassword: env.LODE_OCI_PASSWORD || undefined,
    dockerConfigDir: env.DOCKER_CONFIG || joinPath(homeDir(env), ".docker"),
    lockfile: env.LODE_LOCKFILE || undefined,
    runtimeDir: env.XDG_RUNTIME_DIR || undefined,
    tmpDir: env.TMPDIR || undefined,
    debug: cliSettings(env).debug,
    sinks: [
      ...(file?.sinks ?? []).map((entry) => sinkFromEntry(entry, env)),
      ...(flags.sink ?? []).map((value) => sinkFlag(value, env)),
    ],
    allowOrigins: (file?.allow_origins ?? []).map((o) => originOf(o)!),
  };
}

function httpClientChoice(value: string | undefined): "http1" | "fetch" {
  if (value === undefined || value === "" || value === "http1") return "http1";
  if (value === "fetch") return "fetch";
  throw new LodeError("USAGE", `LODE_HTTP_CLIENT must be http1 or fetch, got "${value}"`);
}
