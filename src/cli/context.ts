/**
 * What every command gets: resolved config, the printer, the store, and — only
 * when a command pulls — the network effects (host policy, trusting HTTP
 * client, progress renderer) built from the config. The download engine and the
 * progress bar are imported on first use so that `lode ls` does not pay for them.
 *
 * Every event a command produces travels through its {@link CommandContext.events} stream, published
 * once with its source (command_events.ts): the command's own with {@link CommandContext.emit}, a pull's
 * from the download layer (source `download`), its failure's `error` (source `cli`) with
 * {@link CommandContext.error}. The progress renderer and, with `--json`, the printer are listeners of
 * the stream; so is any other subscriber of the command's events.
 * The commands that have sinks (the config file's `sinks`, `--sink`: pull, sync, job, and serve on its
 * daemon's stream) attach them with {@link CommandContext.attachSinks}; `dispose` flushes and closes them.
 * @module
 */
import { type Config, type GlobalFlags, loadConfig } from "../config.ts";
import type { PullContext } from "../download/pull_context.ts";
import type { DownloadEvent } from "../events/download_event.ts";
import type { EventSource, SourceEvents } from "../events/envelope.ts";
import type { EventStream } from "../events/event_stream.ts";
import type { LodeError } from "../errors.ts";
import type { PluginDriver } from "../plugin/plugin_driver.ts";
import type { SupervisedPlugin } from "../plugin/plugin_supervisor.ts";
import type { EventSink } from "../plugin/sink_runner.ts";
import type { Registry, RegistryContext, RegistrySettings } from "../registry/registry.ts";
import { ModelStore } from "../store/model_store.ts";
import { commandEvents, reportError } from "./command_events.ts";
import type { Output } from "./output.ts";

/** Flags every command accepts. */
export interface CommonFlags extends GlobalFlags {
  json?: boolean;
  quiet?: boolean;
  /** `false` with `--no-wait`. */
  wait?: boolean;
}

/** A command's world. */
export interface CommandContext {
  config: Config;
  output: Output;
  flags: CommonFlags;
  /**
   * The command's event stream: every event the command produces is published here once; the renderer,
   * the `--json` printer and any other subscriber listen.
   */
  events: EventStream;
  /**
   * Publishes one of the command's events on {@link events}; once the output has closed it throws that
   * condition (`OutputClosed`), as a write would, so the command stops.
   */
  emit<S extends EventSource>(source: S, event: SourceEvents[S], options?: { jobId?: string }): void;
  /**
   * Reports a failure the command goes on after (or ends with): its `error` event (source `cli`) unless
   * one was reported already, and the text for people.
   */
  error(error: LodeError): void;
  store(): Promise<ModelStore>;
  /**
   * The pull context for `urls` the user named (their hosts join the allow-list). Every pull of one
   * command shares the HTTP clients, the connection budget and the progress display.
   */
  pullContext(urls: string[]): Promise<PullContext>;
  /** What registries resolve with: GETs limited to the allowed hosts plus `hosts`, the settings, the store. */
  registryContext(hosts: string[]): Promise<RegistryContext>;
  /**
   * Attaches the configured event sinks (src/cli/sinks.ts) to `stream`; `dispose` flushes and closes
   * them. Throws when one cannot be opened (a webhook without its secret, a URL the network policy refuses).
   */
  attachSinks(stream: EventStream): Promise<void>;
  /**
   * The plugin driver of the command (plugin_host.ts): the built-in registries, each `--plugin DIR`, the
   * installed plugins; loaded on first use, an out-of-process plugin started on its first call.
   */
  plugins(): Promise<PluginDriver>;
  /**
   * The registry claiming `scheme` (without its colon): one lookup in the driver of {@link plugins}, where
   * the built-in registries and the registry plugins are registered alike. The built-ins' schemes are
   * looked up without loading the plugins; another scheme loads them first.
   */
  lookupRegistry(scheme: string): Promise<Registry | undefined>;
  /**
   * The credentials of this run for `host`, asked of the registry `registry` (a plan's `source.registry`)
   * through its `registry.credentials` hook in the driver of {@link plugins}; null when it gives none. A
   * built-in's are asked without loading the plugins.
   */
  credentials(registry: string, host: string): Promise<Record<string, string> | null>;
  /** Takes the progress display down (before results or generated text are printed). */
  endProgress(): Promise<void>;
  /** Releases what the command opened (HTTP clients, the progress display). */
  dispose(): Promise<void>;
}

/** Options of {@link createContext}. */
export interface ContextOptions {
  /** The process's command stream (`runCli` makes it before parsing, so a usage error is published there too); default a new one. */
  events?: EventStream;
  /** Attach the configured sinks to the command's stream (pull, sync, job). */
  sinks?: boolean;
  /**
   * The out-of-process plugins, supervised and some started before the context (early_plugins.ts): the
   * driver is then loaded at once and takes them over, and {@link CommandContext.dispose} stops them.
   */
  plugins?: Promise<SupervisedPlugin[]>;
}

/** The settings registries take from the config (the Hub's and the OCI registries' credentials). */
export function registrySettings(config: Config): RegistrySettings {
  const { hfEndpoint, hfToken, ociUsername, ociPassword, dockerConfigDir, httpHosts } = config;
  return { hfEndpoint, hfToken, ociUsername, ociPassword, dockerConfigDir, httpHosts };
}

/**
 * The settings a pull is given beside its registries (pull_reference.ts's `PullEffects`): where the
 * registries are, without the secrets — credentials come from the registries' `registry.credentials` hook
 * ({@link CommandContext.credentials}); the registries' own context keeps them ({@link registrySettings}).
 */
export function pullSettings(config: Config): RegistrySettings {
  const { hfToken: _token, ociPassword: _password, ...settings } = registrySettings(config);
  return settings;
}

/** Builds the context from parsed flags and the environment. */
export async function createContext(
  flags: CommonFlags,
  env: Record<string, string | undefined>,
  output: Output,
  options: ContextOptions = {},
): Promise<CommandContext> {
  const config = await loadConfig(flags, env);
  let store: Promise<ModelStore> | null = null;
  let network: ReturnType<typeof createNetwork> | null = null;
  const openStore = () => (store ??= ModelStore.open(config.storeRoot));
  const events = options.events ?? commandEvents(output);
  const closeSinks: (() => Promise<void>)[] = [];
  let plugins: Promise<PluginDriver> | null = null;
  // The command's one driver: the built-in registries at once; the plugins join it when first needed.
  let driver: Promise<PluginDriver> | null = null;
  const host = {
    registryContext: (hosts: string[]) => ctx.registryContext(hosts),
    settings: registrySettings(config),
  };
  const builtins = () =>
    driver ??= import("./plugin_registry.ts").then(({ builtinDriver }) => builtinDriver(host));
  const ctx: CommandContext = {
    config,
    output,
    flags,
    events,
    emit(source, event, options) {
      events.publish(source, event, options);
      if (output.closed.aborted) throw output.closed.reason;
    },
    error: (error) => reportError(events, output, error),
    store: openStore,
    async pullContext(urls) {
      network ??= createNetwork(config, output, flags, events);
      const { policyFor, shared } = await network;
      return { store: await openStore(), policy: policyFor(urls), ...shared };
    },
    async registryContext(hosts) {
      network ??= createNetwork(config, output, flags, events);
      const { policyFor, shared } = await network;
      const { openGet } = await import("../download/http_get.ts");
      const policy = policyFor(hosts.map((h) => `https://${h}/`));
      return {
        settings: registrySettings(config),
        store: await openStore(),
        get: async (url, init) =>
          (await openGet(url, {
            policy,
            clientFor: shared.clientFor,
            send: shared.send,
            headers: init?.headers,
            signal: init?.signal,
          }))
            .response,
      };
    },
    async attachSinks(stream) {
      const plugins = await pluginSinks(ctx);
      if (config.sinks.length === 0 && plugins.length === 0) return;
      const { openSinks } = await import("./sinks.ts");
      closeSinks.push(
        await openSinks(stream, {
          specs: config.sinks,
          plugins,
          storeRoot: config.storeRoot,
          network: config,
          notice: output.sink((line: string) => output.stderr(`lode: ${line}\n`)),
        }),
      );
    },
    plugins() {
      return plugins ??= Promise.all([builtins(), import("./plugin_host.ts")]).then((
        [driver, { addPlugins }],
      ) =>
        addPlugins(driver, {
          ...host,
          dirs: flags.plugin,
          pluginsDir: config.pluginsDir,
          env,
          supervised: options.plugins,
        })
      );
    },
    async lookupRegistry(scheme) {
      const [driver, { isBuiltinScheme, registryOf }] = await Promise.all([
        builtins(),
        import("./plugin_registry.ts"),
      ]);
      const found = driver.registryFor(scheme) ??
        (isBuiltinScheme(scheme) ? undefined : (await ctx.plugins()).registryFor(scheme));
      return found && registryOf(driver, found);
    },
    async credentials(registry, host) {
      const [driver, { isBuiltinRegistry, registryCredentials }] = await Promise.all([
        builtins(),
        import("./plugin_registry.ts"),
      ]);
      return await registryCredentials(
        isBuiltinRegistry(registry) ? driver : await ctx.plugins(),
        registry,
        host,
      );
    },
    async endProgress() {
      if (network) (await network).endProgress();
    },
    async dispose() {
      // The sinks first: they may still be delivering over the network. The plugins' processes are stopped
      // (shutdown, exit) before the network goes.
      for (const close of closeSinks.splice(0)) await close();
      if (plugins) await (await plugins.catch(() => null))?.close();
      if (network) (await network).dispose();
    },
  };
  if (options.sinks) await ctx.attachSinks(events);
  // Loaded now, so that dispose stops the early plugins even when the command never asks for them.
  if (options.plugins) ctx.plugins().catch(() => {});
  return ctx;
}

/**
 * The network side of a command, made once: clients, the global connection budget, the renderer (a
 * listener of `events`, where the pulls publish).
 */
async function createNetwork(config: Config, output: Output, flags: CommonFlags, events: EventStream) {
  const [
    { ConnectionBudget },
    { createHttpClients },
    { DEFAULT_RETRY },
    { HostPolicy },
    { MAX_AUTO_CONNECTIONS },
    { createPullRenderer },
  ] = await Promise.all([
    import("../download/connection_budget.ts"),
    import("../download/proxy.ts"),
    import("../download/retry.ts"),
    import("../download/host_policy.ts"),
    import("../download/parallel_download.ts"),
    import("./pull_renderer.ts"),
  ]);
  const base = new HostPolicy({
    allowHosts: config.allowHosts,
    httpHosts: config.httpHosts,
    offline: config.offline,
  });
  const clients = createHttpClients({
    caCertPems: config.caCertPems,
    proxy: config.proxy,
    fetchOnly: config.httpClient === "fetch",
  });
  const renderer = await createPullRenderer(output);
  const stopRendering = events.listen((e) => {
    if (e.source === "download") renderer.onEvent(e.event);
  });
  const publish = (event: DownloadEvent) => void events.publish("download", event);
  const shared: Omit<PullContext, "store" | "policy"> = {
    clientFor: clients.clientFor,
    send: clients.send,
    cushionBytes: config.cushionBytes,
    connections: config.connections,
    budget: new ConnectionBudget(config.connections === "auto" ? MAX_AUTO_CONNECTIONS : config.connections),
    stallMs: config.stallMs,
    retry: { ...DEFAULT_RETRY, attempts: config.retries },
    emit: publish,
    // A closed output stops every pull of the command; each keeps its partial download for the next pull.
    signal: output.closed,
    lock: {
      wait: flags.wait !== false,
      onWait: (what) => publish({ event: "waiting", reason: "lock", what }),
    },
  };
  let open = true;
  return {
    policyFor: (urls: string[]) => base.with(urls),
    shared,
    endProgress: () => renderer.stop(),
    dispose() {
      stopRendering();
      renderer.stop();
      if (open) clients.close();
      open = false;
    },
  };
}

/**
 * The sink plugins of the command (`--plugin` folders, then the installed ones, with `sink` hooks) as event
 * sinks, their processes started by the command's driver; none without such a plugin (nothing is started).
 * A plugin that cannot be loaded is told on stderr and left out: a sink never stops a command.
 */
async function pluginSinks(ctx: CommandContext): Promise<EventSink[]> {
  // Without a --plugin folder or an installed plugin, nothing is imported (a pull starts as fast as before).
  if (!ctx.flags.plugin?.length && !(await hasEntries(ctx.config.pluginsDir))) return [];
  const { pluginManifests } = await import("./plugin_host.ts");
  try {
    const manifests = await pluginManifests({ dirs: ctx.flags.plugin, pluginsDir: ctx.config.pluginsDir });
    const names = new Set(manifests.filter((m) => m.hooks.includes("sink")).map((m) => m.name));
    if (names.size === 0) return [];
    const driver = await ctx.plugins();
    const { pluginEventSinks } = await import("./sinks.ts");
    return pluginEventSinks(driver.plugins.filter((p) => names.has(p.name)));
  } catch (e) {
    ctx.output.stderr(`lode: the sink plugins were not loaded: ${(e as Error).message}\n`);
    return [];
  }
}

/** True when `dir` exists and holds an entry. */
async function hasEntries(dir: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(dir)) return true;
  } catch {
    // no folder: no installed plugin
  }
  return false;
}
