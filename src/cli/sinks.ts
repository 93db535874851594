/**
 * The event sinks of a command (`pull`, `sync`, `job`, and `serve` on its daemon's stream): the
 * config's {@link SinkSpec}s opened as the built-in webhook and file-log sinks and attached to an
 * event stream by the sink runner (src/plugin/sink_runner.ts).
 *
 * - A webhook URL obeys the command's network policy: the allowed hosts plus the URL's own host (the
 *   user named it), https unless the host was allowed with `--allow-http`, lode's trusted CAs and
 *   proxies. Its spool lives in the store, `sinks/webhook-<hash of the URL>/`.
 * - A webhook without its secret, a secret that is not `whsec_…`, or a URL the policy refuses stops
 *   the command before it starts, with a typed error.
 * - Drops, failures and close timeouts are printed on stderr, each naming its sink (a sink that fails
 *   on every event is reported once, with the count at the end).
 *
 * @example
 * ```ts
 * import { EventStream } from "../events/event_stream.ts";
 * import { openSinks } from "./sinks.ts";
 * const stream = new EventStream();
 * const close = await openSinks(stream, {
 *   specs: [{ type: "file", path: "/tmp/lode-events.ndjson" }],
 *   storeRoot: "/tmp/store",
 *   network: { allowHosts: [], httpHosts: [], offline: false, caCertPems: [], proxy: { noProxy: [] } },
 *   notice: (line) => console.error(line),
 * });
 * stream.publish("download", { event: "waiting", reason: "lock", what: "m" });
 * await close();
 * ```
 * @module
 */
import type { Config } from "../config.ts";
import type { SinkSpec } from "../config_sinks.ts";
import { LodeError } from "../errors.ts";
import type { EventStream } from "../events/event_stream.ts";
import { absolutePath, joinPath } from "../path.ts";
import { attachSinks, type EventSink, type SinkNotice } from "../plugin/sink_runner.ts";
import type { Plugin } from "../plugin/api.ts";
import type { Envelope } from "../events/envelope.ts";

/** What {@link openSinks} needs. */
export interface OpenSinksOptions {
  specs: readonly SinkSpec[];
  /** Sinks of plugins (src/cli/plugin_host.ts), attached with the configured ones. */
  plugins?: readonly EventSink[];
  /** The store's root: webhook spools live under it. */
  storeRoot: string;
  /** The network settings webhooks follow. */
  network: Pick<Config, "allowHosts" | "httpHosts" | "offline" | "caCertPems" | "proxy">;
  /** One line for the operator. */
  notice: (line: string) => void;
  /** How long closing waits for the sinks to flush, milliseconds. Default 5000. */
  graceMs?: number;
}

/** Opens the sinks of `options.specs` and attaches them to `stream`; returns the function that flushes and closes them. */
export async function openSinks(
  stream: EventStream,
  options: OpenSinksOptions,
): Promise<() => Promise<void>> {
  if (options.specs.length === 0 && !options.plugins?.length) return () => Promise.resolve();
  const sinks: EventSink[] = [...options.plugins ?? []];
  const cleanups: (() => void)[] = [];
  try {
    for (const spec of options.specs) {
      if (spec.type === "file") {
        const { createFileLogSink } = await import("../../plugins/file_log_sink/file_log_sink.ts");
        const path = absolutePath(spec.path);
        sinks.push(
          await createFileLogSink({ path, maxBytes: spec.maxBytes, keep: spec.keep }).catch((e) => {
            throw new LodeError(
              "USAGE",
              `cannot open the log file ${path} of a file sink: ${(e as Error).message}`,
              {
                hint: "Create its directory (or make it writable), or name another file.",
                details: { path },
              },
            );
          }),
        );
      } else {
        sinks.push(await openWebhook(spec, options, cleanups));
      }
    }
  } catch (e) {
    await Promise.allSettled(sinks.map((s) => s.close()));
    for (const cleanup of cleanups) cleanup();
    throw e;
  }
  const failures = new Map<string, number>();
  const attached = attachSinks(stream, sinks, {
    graceMs: options.graceMs,
    onNotice: (n) => {
      const line = noticeLine(n, failures);
      if (line) options.notice(line);
    },
  });
  return async () => {
    await attached.close();
    for (const [sink, count] of failures) {
      if (count > 1) options.notice(`sink ${sink} failed ${count} times in all`);
    }
    for (const cleanup of cleanups) cleanup();
  };
}

async function openWebhook(
  spec: Extract<SinkSpec, { type: "webhook" }>,
  options: OpenSinksOptions,
  cleanups: (() => void)[],
): Promise<EventSink> {
  if (spec.secret === undefined) {
    throw new LodeError(
      "USAGE",
      `the webhook sink ${spec.url} has no secret: $${spec.secretEnv} is not set`,
      {
        hint:
          `Set ${spec.secretEnv} to the endpoint's whsec_… secret (make one: echo whsec_$(openssl rand -base64 32)).`,
        details: { url: spec.url, secret_env: spec.secretEnv },
      },
    );
  }
  const [{ createWebhookSink }, { HostPolicy }, { createHttpClients }] = await Promise.all([
    import("../../plugins/webhook_sink/webhook_sink.ts"),
    import("../download/host_policy.ts"),
    import("../download/proxy.ts"),
  ]);
  const { network } = options;
  const policy = new HostPolicy({
    allowHosts: network.allowHosts,
    httpHosts: network.httpHosts,
    offline: network.offline,
  }).with([spec.url]);
  const clients = createHttpClients({ caCertPems: network.caCertPems, proxy: network.proxy });
  cleanups.push(() => clients.close());
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(spec.url)));
  const hash = [...digest.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return await createWebhookSink({
    url: spec.url,
    secret: spec.secret,
    secretSource: `$${spec.secretEnv}`,
    events: spec.events,
    policy,
    clientFor: clients.clientFor,
    spoolDir: joinPath(options.storeRoot, "sinks", `webhook-${hash}`),
    onNotice: options.notice,
  });
}

function noticeLine(n: SinkNotice, failures: Map<string, number>): string | null {
  switch (n.kind) {
    case "dropped":
      return `sink ${n.sink} could not keep up: ${n.count} event(s) missed`;
    case "timeout":
      return `sink ${n.sink} did not finish in time: ${n.pending} event(s) not handled`;
    case "failed": {
      const count = (failures.get(n.sink) ?? 0) + 1;
      failures.set(n.sink, count);
      if (count > 1) return null;
      return `sink ${n.sink} failed: ${n.error instanceof Error ? n.error.message : String(n.error)}`;
    }
  }
}

/**
 * The sink hooks of `plugins` as event sinks, fed by the sink runner like the built-ins (a bounded buffer
 * each, drops counted). Closing one only waits for what it was given: the plugin's own `sink.close` comes
 * when the command's plugin driver closes.
 */
export function pluginEventSinks(plugins: readonly Plugin[]): EventSink[] {
  return plugins.flatMap((p) => {
    const sink = p.sink;
    if (sink === undefined) return [];
    return [{
      name: `plugin ${p.name}`,
      event: (e: Envelope) => sink.event(e),
      close: () => Promise.resolve(),
    }];
  });
}
