/**
 * What `lode run`, `lode chat` and `lode embed` share before the first token:
 * find the model file a reference names (pulling it when it is a URL or a
 * Hugging Face reference not yet in the store), then load it with the
 * node-llama-cpp backend (imported only here, on first use) — or, for a file
 * that is not GGUF, with the first backend plugin given that claims it —
 * reporting load phases as status events.
 * @module
 */
import process from "node:process";
import { isPinnedCommit, storedModelFor } from "../registry/stored_ref.ts";
import { parseRef } from "../registry/reference.ts";
import { lookUpReference } from "../registry/registry_lookup.ts";
import type { LoadOptions, Session } from "../inference/backend.ts";
import { type StatusEvent, statusLine } from "../events/status_event.ts";
import type { CommandContext } from "./context.ts";
import { pullRef } from "./pull_ref.ts";
import { ownFileName } from "../store/manifest.ts";
import { readChatTemplate } from "../store/chat_template.ts";

/** The file a reference names, its own name when its path does not end in it, and the load options it brings. */
interface ModelFile {
  path: string;
  fileName?: string;
  /** A stored model's chat template file (`chatTemplate`, `chatTemplateName`), used instead of the GGUF's. */
  load?: Pick<LoadOptions, "chatTemplate" | "chatTemplateName">;
}

/**
 * Where the model comes from when it has to be pulled (`--name`, `--sha256`).
 *
 * @example
 * ```ts
 * import type { PullFlags } from "./model_session.ts";
 * const pull: PullFlags = { name: "tiny", sha256: "270cba1b…" };
 * ```
 */
export interface PullFlags {
  name?: string;
  sha256?: string;
}

/**
 * The local path of the model a reference names: a stored model, `file:PATH`,
 * or a URL / `hf:` reference (pulled and verified first when missing).
 */
async function modelPath(
  ctx: CommandContext,
  ref: string,
  pull: PullFlags = {},
): Promise<ModelFile> {
  // Parsed by the registry its scheme names (a registry plugin's SCHEME:REST is its reference, not a name).
  const { ref: parsed } = await lookUpReference(ref, (scheme) => ctx.lookupRegistry(scheme));
  if (parsed.kind === "file") return { path: parsed.path };
  if (parsed.kind === "name") return await storedModel(ctx, parsed.name);
  if (parsed.kind === "hf" && isPinnedCommit(parsed.revision)) {
    // A commit never changes: once stored, the reference runs from the store (no Hub request, --offline too).
    const store = await ctx.store();
    const name = storedModelFor(parsed, (await store.list()).models);
    if (name !== null) return await storedModel(ctx, name);
  }
  const { name, path } = await pullRef(ctx, ref, pull);
  await ctx.endProgress();
  return await storedModel(ctx, name, path);
}

/**
 * A stored model's file, the file's own name when its path (its blob's) does not end in it, and its
 * chat template file when the manifest lists one (an OCI artifact's template layer).
 */
async function storedModel(
  ctx: CommandContext,
  name: string,
  pulledPath?: string,
): Promise<ModelFile> {
  const store = await ctx.store();
  const manifest = await store.getManifest(name);
  const path = pulledPath ?? await store.checkedModelPath(manifest);
  const fileName = ownFileName(manifest, path);
  const template = await readChatTemplate(store.layout, manifest);
  return {
    path,
    ...(fileName === undefined ? {} : { fileName }),
    ...(template === undefined
      ? {}
      : { load: { chatTemplate: template.text, chatTemplateName: template.name } }),
  };
}

/**
 * Options of {@link openModel}.
 *
 * @example
 * ```ts
 * import type { OpenModelOptions } from "./model_session.ts";
 * const options: OpenModelOptions = { load: { threads: 1, gpu: "off" }, pull: { name: "tiny" } };
 * ```
 */
export interface OpenModelOptions {
  /** Backend load options (threads, context, GPU, memory check, signal). */
  load: LoadOptions;
  pull?: PullFlags;
  /**
   * Use a running `lode serve` of this store for a stored model's name (default true; `--no-daemon`
   * sets false). With `socket` (`--socket`) that daemon must answer, whatever store it serves.
   */
  daemon?: {
    use?: boolean;
    socket?: string;
    /**
     * Load flags given explicitly (`explicitLoadFlags` of inference_flags.ts): a daemon loads with its own settings, so
     * when one is used a note says these were not applied.
     */
    loadFlags?: string[];
  };
  /**
   * Folders of backend plugins, tried in order for a model file that is not GGUF; default: the `--plugin`
   * folders, then the installed plugins, that have backend hooks (`chooseBackend` of
   * backend_choice.ts); a GGUF file always runs on llama.cpp.
   */
  plugins?: readonly string[];
}

/**
 * A loaded model; `close` frees the session and the runtime.
 *
 * @example
 * ```ts
 * import type { OpenedModel } from "./model_session.ts";
 * const dims = (m: OpenedModel) => m.session.info.embeddingSize;
 * ```
 */
export interface OpenedModel {
  session: Session;
  close(): Promise<void>;
  /** The daemon's socket when the model runs there. */
  daemon?: string;
}

/**
 * Resolves `ref` to a file and loads it; a load in this process publishes its status events on the
 * command's stream (source `inference`, as `{"event":"status",…}` lines: printed with `--json`).
 */
export async function openModel(
  ctx: CommandContext,
  ref: string,
  options: OpenModelOptions,
): Promise<OpenedModel> {
  if (daemonMayServe(ref, options)) {
    // --ctx-size travels with the daemon's `load`; the other load settings are the daemon's own.
    const flags = options.daemon?.loadFlags ?? [];
    const contextSize = flags.includes("--ctx-size") ? options.load.contextSize : undefined;
    const remote = await openInDaemon(ctx, ref, {
      socket: options.daemon?.socket,
      signal: options.load.signal,
      contextSize,
    });
    if (remote) {
      const ignored = flags.filter((f) => f !== "--ctx-size");
      if (ignored.length > 0) {
        ctx.output.note(
          `note: ${
            ignored.join(", ")
          } not applied: the daemon's load settings apply (its \`lode serve\` flags);` +
            " use --no-daemon to load the model in this process with them",
        );
      }
      return remote;
    }
  }
  const { path, fileName, load: modelLoad } = await modelPath(ctx, ref, options.pull);
  const { output } = ctx;
  const { chooseBackend } = await import("../inference/backend_choice.ts");
  const { openPluginBackend } = await import("../inference/plugin_backend.ts");
  const backend = await chooseBackend(path, {
    builtIn: async () =>
      (await import("../inference/llama_cpp_backend.ts")).createLlamaCppBackend({
        log: output.sink((level, line) => output.stderr(`[llama.cpp ${level}] ${line}\n`)),
      }),
    plugins: options.plugins
      ? options.plugins.map((dir) => () => openPluginBackend(dir))
      : async () => (await backendPluginDirs(ctx)).map((dir) => () => openPluginBackend(dir)),
  }, { fileName });
  try {
    // The load's phases: `inference` status lines on the command's stream.
    const onStatus = output.sink((e: StatusEvent) => ctx.emit("inference", statusLine(e)));
    const session = await backend.load(path, {
      ...options.load,
      ...modelLoad,
      onStatus,
      ...(fileName ? { fileName } : {}),
    });
    return { session, close: () => backend.close() };
  } catch (e) {
    await backend.close();
    throw e;
  }
}

/**
 * Whether `ref` may be opened in a daemon: never with `--no-daemon` (`daemon.use` false) nor for `file:`;
 * a stored model's name always (when one serves this store); a reference (`hf:`, URL) only with an
 * explicit `--socket` and no `--name`/`--sha256` (the daemon pulls it, reporting progress on its admin
 * stream, and keys it by the reference).
 */
export function daemonMayServe(ref: string, options: Pick<OpenModelOptions, "pull" | "daemon">): boolean {
  if (options.daemon?.use === false) return false;
  const kind = parseRef(ref).kind;
  if (kind === "name") return true;
  if (kind === "file" || options.daemon?.socket === undefined) return false;
  return options.pull?.name === undefined && options.pull?.sha256 === undefined;
}

/**
 * The model `name` in the running daemon, or null when no daemon of this
 * store answers `health` (then the model is loaded in this process). With
 * an explicit `socket` the daemon must answer (`DAEMON_NOT_RUNNING`).
 */
async function openInDaemon(
  ctx: CommandContext,
  name: string,
  options: { socket?: string; signal?: AbortSignal; contextSize?: number } = {},
): Promise<OpenedModel | null> {
  const { socket, signal, contextSize } = options;
  const { socketPaths, storeIdentity } = await import("./daemon_flags.ts");
  const { DaemonClient } = await import("../daemon/wire/client.ts");
  const { PROTOCOL_VERSION } = await import("../daemon/wire/protocol.ts");
  const path = socketPaths({ socket }, ctx.config).socket;
  let client;
  try {
    client = await DaemonClient.connect(path);
  } catch (e) {
    if (socket !== undefined) throw e;
    return null;
  }
  try {
    const health = await client.health();
    const usable = health.status === "ready" && health.protocol === PROTOCOL_VERSION &&
      (socket !== undefined || health.store === storeIdentity(ctx.config.storeRoot));
    if (!usable) {
      client.close();
      return null;
    }
    const session = await client.session(name, { signal, contextSize });
    return { session, close: () => Promise.resolve(client.close()), daemon: path };
  } catch (e) {
    client.close();
    throw e;
  }
}

/**
 * Calls `handler` on every Ctrl-C (SIGINT) until the returned function is
 * called; while listening, Ctrl-C no longer ends the process.
 *
 * Registered as a Node `process` listener, not with `Deno.addSignalListener`:
 * node-llama-cpp loads `signal-exit`, which on SIGINT re-raises the signal
 * (`process.kill(pid, "SIGINT")`) when it sees no other `process` listener,
 * so a Deno listener would get every Ctrl-C twice.
 *
 * @example
 * ```ts
 * import { onInterrupt } from "./model_session.ts";
 * const abort = new AbortController();
 * const stop = onInterrupt(() => abort.abort());
 * try { } finally { stop(); }
 * ```
 */
export function onInterrupt(handler: () => void): () => void {
  const listener = () => handler();
  process.on("SIGINT", listener);
  return () => {
    process.off("SIGINT", listener);
  };
}

/** The folders of the command's backend plugins: `--plugin` folders first, then the installed ones. */
async function backendPluginDirs(ctx: CommandContext): Promise<string[]> {
  const { pluginManifests } = await import("./plugin_host.ts");
  const manifests = await pluginManifests({ dirs: ctx.flags.plugin, pluginsDir: ctx.config.pluginsDir });
  return manifests.filter((m) => m.hooks.includes("backend")).map((m) => m.dir);
}
