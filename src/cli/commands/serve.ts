/**
 * `lode serve`: the daemon. One per socket (a second one exits 7 with
 * `DAEMON_RUNNING` naming the first one's pid); models run in runner
 * processes behind the router (src/daemon/router/model_router.ts); requests arrive
 * on the inference socket (docs/protocol.md), status goes out on the admin
 * socket. SIGTERM or SIGINT drains (new requests get `DRAINING`, in-flight
 * ones have `--grace` to finish; a second signal stops them at once); the
 * sockets and the lock record are removed and the process exits 0.
 * Operator notes (ready, loads, drains) go to stderr; when its reader goes
 * away the daemon drains as on SIGTERM and exits 141.
 * @module
 */
import process from "node:process";
import { ActivityLog } from "../../daemon/server/activity_log.ts";
import { EventStream } from "../../events/event_stream.ts";
import { startDaemon } from "../../daemon/server/daemon.ts";
import type { DaemonJobs } from "../../daemon/jobs/daemon_jobs.ts";
import { prepareSocketDir } from "../../daemon/wire/socket_path.ts";
import { resolve } from "node:path";
import type { BackendPlugin, StoredModel } from "../../daemon/router/plugin_models.ts";
import type { ProvideModel } from "../../daemon/router/model_router.ts";
import { lockfilePath, readLockfileIfPresent } from "../../lock/lockfile.ts";
import type { ModelStore } from "../../store/model_store.ts";
import { ownFileName } from "../../store/manifest.ts";
import { readChatTemplate } from "../../store/chat_template.ts";
import type { ParsedArgv } from "../args.ts";
import { type CommandContext, pullSettings } from "../context.ts";
import { parseServeFlags, socketPaths, storeIdentity } from "../daemon_flags.ts";
import { parseLoadFlags } from "../inference_flags.ts";

/**
 * The daemon's provider of models the store lacks (src/daemon/router/model_provider.ts): the lockfile
 * (`--lockfile`, `$LODE_LOCKFILE`, else `./lode.lock` when present; read again on every miss) and
 * references, pulled through this command's one pull context. References are not pulled when the
 * HTTP front accepts remote clients (a remote client must not make the daemon fetch URLs it names).
 */
async function provider(
  ctx: CommandContext,
  o: ParsedArgv["options"],
  options: {
    notice: (line: string) => void;
    allowRemote: boolean;
    events: EventStream;
    jobs: DaemonJobs;
  },
): Promise<ProvideModel> {
  const explicit = (o.lockfile as string | undefined) ?? ctx.config.lockfile;
  const path = resolve(lockfilePath(o.lockfile as string | undefined, ctx.config.lockfile));
  const initial = await readLockfileIfPresent(path); // an invalid lockfile fails the start
  if (initial) options.notice(`lockfile ${path}: ${initial.models.length} model(s) pulled on first use`);
  else if (explicit) {
    options.notice(`the lockfile ${path} does not exist (yet): no model is pulled from it until it does`);
  }
  const { createModelProvider } = await import("../../daemon/router/model_provider.ts");
  return createModelProvider({
    store: await ctx.store(),
    lockfile: () => readLockfileIfPresent(path),
    pullContext: (urls) => ctx.pullContext(urls),
    registryContext: (hosts) => ctx.registryContext(hosts),
    settings: pullSettings(ctx.config),
    credentials: (registry, host) => ctx.credentials(registry, host),
    lookupRegistry: (scheme) => ctx.lookupRegistry(scheme),
    offline: ctx.config.offline,
    references: !options.allowRemote,
    notice: options.notice,
    events: options.events,
    pullJob: (ref, call) => options.jobs.pull(ref, call),
  });
}

/**
 * The backend plugins of the command's driver (`--plugin`, then the installed ones), in that order, each
 * allowed to read `modelFiles` (the store's model files) besides what its manifest declares.
 */
async function backendPlugins(ctx: CommandContext, modelFiles: readonly string[]): Promise<BackendPlugin[]> {
  const driver = await ctx.plugins();
  return driver.plugins.flatMap((p) => {
    const supervised = driver.supervised(p.name);
    if (!p.backend || !supervised) return [];
    supervised.allowRead(modelFiles);
    return [{ name: p.name, hooks: p.backend, exited: () => supervised.process?.exited }];
  });
}

/** What a stored model brings to its start: its file's own name and its chat template file (one manifest read). */
async function storedModel(store: ModelStore, model: string, path: string): Promise<StoredModel> {
  let manifest;
  try {
    manifest = await store.readManifest(model);
  } catch {
    return {}; // not a stored model's name (a path given as is); the load itself says what is wrong
  }
  if (manifest === null) return {};
  const fileName = ownFileName(manifest, path);
  const template = await readChatTemplate(store.layout, manifest);
  return {
    ...(fileName === undefined ? {} : { fileName }),
    ...(template === undefined
      ? {}
      : { load: { chatTemplate: template.text, chatTemplateName: template.name } }),
  };
}

/**
 * `lode serve`.
 */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const o = parsed.options;
  const settings = parseServeFlags(o);
  const load = parseLoadFlags(o);
  const paths = socketPaths(o, ctx.config);
  if (paths.useDefaultDir) await prepareSocketDir(paths.dir, { uid: Deno.uid() });
  const store = await ctx.store();
  // Notices come from the daemon's insides: a closed stderr drops them, and stops the daemon (below).
  const notice = ctx.output.sink((line: string) => ctx.output.note(`lode serve: ${line}`));
  // The daemon's one event stream: its status events and the download events of the pulls it performs.
  const events = new EventStream({ onListenerError: (e) => notice(`an event listener failed: ${e}`) });
  // The sinks (config file, --sink) receive the daemon's events; the command's dispose flushes them.
  await ctx.attachSinks(events);
  const log = settings.log
    ? await ActivityLog.open(settings.log.path, {
      maxBytes: settings.log.maxBytes,
      keep: settings.log.keep,
      logPrompts: settings.log.logPrompts,
      onError: notice,
    })
    : undefined;
  const { ModelRouter } = await import("../../daemon/router/model_router.ts");
  // Vocabularies of loaded models, opened in this process so that tokenize skips the runners.
  const vocabularies = settings.tokenizeInDaemon
    ? (await import("../../inference/llama_cpp_backend.ts")).createLlamaCppBackend({
      log: (level, line) => notice(`[llama.cpp ${level}] ${line}`),
    })
    : undefined;
  const { createDaemonPull, createStoredName } = await import("../../daemon/router/model_provider.ts");
  // The daemon's jobs: submitted over its socket, and the pulls a request's load needs.
  const jobs = new (await import("../../daemon/jobs/daemon_jobs.ts")).DaemonJobs({
    store,
    events,
    effects: {
      pull: createDaemonPull({
        pullContext: (urls) => ctx.pullContext(urls),
        registryContext: (hosts) => ctx.registryContext(hosts),
        settings: pullSettings(ctx.config),
        credentials: (registry, host) => ctx.credentials(registry, host),
        lookupRegistry: (scheme) => ctx.lookupRegistry(scheme),
      }),
    },
    socket: paths.socket,
    notice,
    lookupRegistry: (scheme) => ctx.lookupRegistry(scheme),
  });
  const { storeVersions } = await import("../../daemon/router/stored_versions.ts");
  const { pluginModels } = await import("../../daemon/router/plugin_models.ts");
  // A GGUF file runs in a runner; any other file on the first backend plugin (--plugin, installed) that claims it.
  const models = pluginModels({
    onLog: (model, line) => notice(`[${model}] ${line}`),
    // A backend plugin reads a stored model from the store's blobs (and a multi-file one's links): only those.
    backends: () => backendPlugins(ctx, [store.layout.blobsDir, `${store.layout.root}/links`]),
    // A stored model's chat template file renders its chats, as in `lode run`.
    storedModel: (model, path) => storedModel(store, model, path),
  });
  const router = new ModelRouter({
    store,
    provide: await provider(ctx, o, {
      notice,
      allowRemote: settings.http?.allowRemote === true,
      events,
      jobs,
    }),
    storedName: createStoredName(store),
    // Another process's `lode rm`, `gc` or pull changes the store: loaded models follow it.
    versions: storeVersions(store),
    // `--parallel` requests of a model run at once on as many sequences of its context, each its own context.
    load: { ...load, sequences: settings.parallel },
    start: models.start,
    estimate: models.estimate,
    keepAliveMs: settings.keepAliveMs,
    maxLoaded: settings.maxLoaded,
    onLog: (model, line) => notice(`[${model}] ${line}`),
    ...(vocabularies?.loadVocabulary
      ? { vocabulary: (path: string) => vocabularies.loadVocabulary!(path) }
      : {}),
    notice,
  });
  // A signal while starting (loading a preload) stops the start; afterwards it drains.
  const starting = new AbortController();
  let onSignal: () => void = () => starting.abort();
  let stopRequested = false;
  const handler = () => {
    stopRequested = true;
    onSignal();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  // The reader of its output went away (`lode serve 2>&1 | head`): the daemon stops as on a signal.
  ctx.output.closed.addEventListener("abort", handler, { once: true });
  try {
    const daemon = await startDaemon({
      socket: paths.socket,
      adminSocket: paths.adminSocket,
      lock: paths.lock,
      router,
      preload: settings.models,
      maxQueue: settings.maxQueue,
      parallel: settings.parallel,
      graceMs: settings.graceMs,
      store: storeIdentity(store.layout.root),
      loaded: () => router.loadedNames(),
      ...(log ? { log } : {}),
      notice,
      pluginOf: models.pluginOf,
      events,
      jobs,
      signal: starting.signal,
      // Origins allowed on the HTTP front: --allow-origin, then the config file's allow_origins.
      ...(settings.http
        ? {
          http: {
            ...settings.http,
            allowOrigins: [...settings.http.allowOrigins, ...ctx.config.allowOrigins],
          },
        }
        : {}),
    });
    onSignal = () => void daemon.stop();
    // A stop asked for after the start's last look at its signal is carried out now.
    if (stopRequested) onSignal();
    await daemon.stopped;
  } catch (e) {
    await log?.close();
    throw e;
  } finally {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
    ctx.output.closed.removeEventListener("abort", handler);
    await vocabularies?.close();
  }
}
