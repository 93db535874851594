/**
 * A backend plugin (api.ts's {@link BackendHooks}: in process, or out of process through remote_plugin.ts)
 * as the in-process {@link Backend} of backend.ts, so `lode run`, the daemon and the conformance suite use
 * it as they use llama.cpp:
 *
 * - a generation streams the plugin's progress frames (`{ text }`) as its chunks, as they come (text of
 *   its result it did not stream comes as a last chunk; a result that contradicts the stream is
 *   `PLUGIN_PROTOCOL`); calls go to the plugin as they are made, in the order it answers them;
 * - aborting it (its signal, leaving the loop, closing the session) cancels the plugin's call, which the
 *   plugin still answers; the generation then ends with `stopReason: "abort"` and the text streamed so far;
 * - every failure names the plugin and the hook (`plugin openai_backend (session.generate): …`), with the
 *   catalogue code the plugin gave (`USAGE`, `CONTEXT_LENGTH_EXCEEDED`, …) or `PLUGIN_*`;
 * - what a session cannot do exactly (its {@link SessionFeatures}) is refused with `INFERENCE_FAILED`.
 *
 * The file checks lode does itself, whatever the plugin: a missing file is `FILE_NOT_FOUND` at load and
 * `ok: false` at probe, so a plugin needs no read access to say so.
 *
 * @example
 * ```ts
 * import { openPluginBackend } from "./plugin_backend.ts";
 * async function complete(dir: string, model: string): Promise<string> {
 *   const backend = await openPluginBackend(dir);
 *   try {
 *     const session = await backend.load(model);
 *     return (await session.generate("Once upon a time", { maxTokens: 20 }).result).text;
 *   } finally {
 *     await backend.close();
 *   }
 * }
 * ```
 * @module
 */
import { isLodeError, LodeError } from "../errors.ts";
import { StatusEvent } from "../events/status_event.ts";
import type {
  BackendHooks,
  CallContext,
  ChatMessageDescriptor,
  GenerateDescriptor,
  PluginSession,
} from "../plugin/api.ts";
import { readManifest } from "../plugin/manifest.ts";
import { pluginError } from "../plugin/plugin_error.ts";
import { SupervisedPlugin, type SupervisorOptions } from "../plugin/plugin_supervisor.ts";
import { type RemoteOptions, remotePlugin } from "../plugin/remote_plugin.ts";
import type {
  Backend,
  ChatMessage,
  GenerateOptions,
  GenerateResult,
  Generation,
  LoadOptions,
  ProbeResult,
  Session,
  SessionFeatures,
} from "./backend.ts";
import { createGeneration } from "./generation.ts";

/** Options of {@link pluginBackend}. */
export interface PluginBackendOptions {
  /** The plugin's name in errors (default: the backend's name). */
  plugin?: string;
  /** Called by {@link Backend.close} after every session is closed: stops the plugin's process. */
  shutdown?: () => Promise<void>;
}

const noop = () => {};

/** Whether there is a file (or anything) at `path`. */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The wire part of generate options (the signal stays here). */
function descriptor(options: GenerateOptions): GenerateDescriptor {
  const { signal: _signal, tools: _tools, toolChoice: _choice, parallelToolCalls: _parallel, ...rest } =
    options;
  return rest;
}

/** The plugin protocol has no tools: a chat that gives tools or holds tool calls or results is refused. */
function toolsRefused(messages: ChatMessage[], options: GenerateOptions): string | null {
  if ((options.tools?.length ?? 0) > 0 && options.toolChoice !== "none") return "tools";
  if (typeof options.toolChoice === "object" || options.toolChoice === "required") return "toolChoice";
  const held = messages.some((m) => m.role === "tool" || (m.toolCalls?.length ?? 0) > 0);
  return held ? "messages" : null;
}

/** `messages` in the plugin protocol's form (roles system, user, assistant; text only). */
function plainMessages(messages: ChatMessage[]): ChatMessageDescriptor[] {
  return messages.map((m) => ({ role: m.role as ChatMessageDescriptor["role"], content: m.content }));
}

/** The in-process {@link Backend} of a backend plugin's hooks. */
export function pluginBackend(hooks: BackendHooks, options: PluginBackendOptions = {}): Backend {
  const plugin = options.plugin ?? hooks.name;
  const sessions = new Set<Session>();
  let closing: Promise<void> | null = null;

  return {
    name: hooks.name,
    async probe(path: string): Promise<ProbeResult> {
      if (!(await exists(path))) return { ok: false, reason: `there is no file at ${path}` };
      try {
        return await hooks.probe(path, { signal: new AbortController().signal, progress: noop });
      } catch (e) {
        return { ok: false, reason: (e as Error).message };
      }
    },
    async load(path: string, load: LoadOptions = {}): Promise<Session> {
      if (closing !== null) {
        throw pluginError("INFERENCE_FAILED", plugin, "backend.load", "the backend is closed");
      }
      if (load.signal?.aborted) throw new LodeError("INTERRUPTED", `loading ${path} was cancelled`);
      if (!(await exists(path))) {
        throw new LodeError("FILE_NOT_FOUND", `there is no file at ${path}`, { details: { path } });
      }
      const report = (event: unknown) => {
        const parsed = StatusEvent.safeParse(event);
        if (!parsed.success) return;
        try {
          load.onStatus?.(parsed.data);
        } catch {
          // A status listener's failure is ignored (LoadOptions.onStatus).
        }
      };
      const context: CallContext = { signal: load.signal ?? new AbortController().signal, progress: report };
      const wire = {
        ...(load.contextSize === undefined ? {} : { contextSize: load.contextSize }),
        ...(load.gpu === undefined ? {} : { gpu: load.gpu }),
        ...(load.threads === undefined ? {} : { threads: load.threads }),
      };
      let loaded: PluginSession;
      try {
        loaded = await hooks.load(path, wire, context);
      } catch (e) {
        if (isLodeError(e, "CANCELLED")) {
          throw new LodeError("INTERRUPTED", `loading ${path} was cancelled`, { cause: e });
        }
        throw e;
      }
      report({ status: "capabilities", ...loaded.capabilities, tools: false });
      const session = pluginSession(loaded, plugin, () => sessions.delete(session));
      sessions.add(session);
      return session;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        await Promise.allSettled([...sessions].map((s) => s.close()));
        await options.shutdown?.();
      })();
      return closing;
    },
  };
}

/** The {@link Session} of a plugin's session; `forget` is called once it is closed. */
function pluginSession(loaded: PluginSession, plugin: string, forget: () => void): Session {
  const features: SessionFeatures = {
    tokenize: loaded.features?.tokenize ?? true,
    renderChat: false,
    rawEmbeddings: loaded.features?.rawEmbeddings ?? true,
    loadOptions: loaded.features?.loadOptions ?? true,
  };
  const running = new Set<AbortController>();
  let closing: Promise<void> | null = null;
  const refused = (hook: string, message: string) => pluginError("INFERENCE_FAILED", plugin, hook, message);
  const closed = (hook: string) => refused(hook, "the session is closed");

  /** Runs a call with a signal of its own, aborted by `signal` and by close. */
  const tracked = async <T>(signal: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<T>) => {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) controller.abort(signal.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    running.add(controller);
    try {
      return await run(controller.signal);
    } finally {
      running.delete(controller);
      signal?.removeEventListener("abort", onAbort);
    }
  };

  const stream = (
    hook: string,
    call: (context: CallContext) => Promise<GenerateResult>,
    options: GenerateOptions,
  ): Generation =>
    createGeneration((emit, signal) => {
      if (closing !== null) return Promise.reject(closed(hook));
      return tracked(signal, async (inner) => {
        const started = performance.now();
        let text = "";
        let chunks = 0;
        let first: number | null = null;
        const aborted = (): GenerateResult => {
          const totalMs = performance.now() - started;
          return {
            text,
            stopReason: "abort",
            usage: {
              promptTokens: 0,
              generatedTokens: chunks,
              loadMs: loaded.info.loadMs,
              timeToFirstTokenMs: first,
              totalMs,
              tokensPerSecond: totalMs > 0 ? chunks / (totalMs / 1000) : 0,
            },
          };
        };
        if (inner.aborted) return aborted();
        const progress = (data: unknown) => {
          const chunk = (data as { text?: unknown } | null)?.text;
          if (typeof chunk !== "string" || chunk === "" || inner.aborted) return;
          first ??= performance.now() - started;
          text += chunk;
          chunks++;
          emit(chunk);
        };
        try {
          const result = await call({ signal: inner, progress });
          if (result.text === text) return result;
          // A plugin that streamed less than its text (or nothing): the rest is the last chunk.
          if (!result.text.startsWith(text)) {
            throw pluginError(
              "PLUGIN_PROTOCOL",
              plugin,
              hook,
              "its result's text is not the text it streamed",
              {
                streamed: text.slice(0, 200),
                text: result.text.slice(0, 200),
              },
            );
          }
          emit(result.text.slice(text.length));
          return result;
        } catch (e) {
          if (inner.aborted && isLodeError(e, "CANCELLED")) return aborted();
          throw e;
        }
      });
    }, options.signal ? { signal: options.signal } : {});

  const unary = async <T>(
    hook: string,
    signal: AbortSignal | undefined,
    run: (c: CallContext) => Promise<T>,
  ) => {
    if (closing !== null) throw closed(hook);
    if (signal?.aborted) throw new LodeError("INTERRUPTED", `${hook} was cancelled`);
    try {
      return await tracked(signal, (inner) => run({ signal: inner, progress: noop }));
    } catch (e) {
      if (isLodeError(e, "CANCELLED")) {
        throw new LodeError("INTERRUPTED", `${hook} was cancelled`, { cause: e });
      }
      throw e;
    }
  };

  return {
    capabilities: { ...loaded.capabilities, tools: false }, // the plugin protocol carries no tools
    info: { ...loaded.info },
    features,
    generate: (prompt, options = {}) =>
      stream("session.generate", (c) => loaded.generate(prompt, descriptor(options), c), options),
    chat: (messages, options = {}) => {
      const tools = toolsRefused(messages, options);
      if (tools !== null) {
        const e = new LodeError(
          "USAGE",
          "a plugin's session cannot call tools (the plugin protocol has none)",
          {
            details: { plugin, field: tools },
          },
        );
        return createGeneration(() => Promise.reject(e));
      }
      return stream(
        "session.chat",
        (c) => loaded.chat(plainMessages(messages), descriptor(options), c),
        options,
      );
    },
    renderChat: () =>
      Promise.reject(
        refused("session.renderChat", "a plugin's session cannot show the text a chat feeds its model"),
      ),
    embed: (texts, options = {}) => {
      if (options.normalize === false && !features.rawEmbeddings) {
        return Promise.reject(refused("session.embed", "this session gives normalized vectors only"));
      }
      const wire = options.normalize === undefined ? {} : { normalize: options.normalize };
      return unary("session.embed", options.signal, (c) => loaded.embed(texts, wire, c));
    },
    tokenize: (text) =>
      features.tokenize
        ? unary("session.tokenize", undefined, (c) => loaded.tokenize(text, c))
        : Promise.reject(refused("session.tokenize", "this session cannot give its model's token ids")),
    detokenize: (tokens) =>
      features.tokenize
        ? unary("session.detokenize", undefined, (c) => loaded.detokenize(tokens, c))
        : Promise.reject(refused("session.detokenize", "this session cannot give its model's token ids")),
    close(): Promise<void> {
      closing ??= (async () => {
        for (const controller of running) controller.abort(new DOMException("session closed", "AbortError"));
        try {
          await loaded.close();
        } catch {
          // A plugin that is gone has closed its sessions with it.
        } finally {
          forget();
        }
      })();
      return closing;
    },
  };
}

/** Options of {@link openPluginBackend}. */
export interface OpenPluginBackendOptions extends SupervisorOptions, RemoteOptions {}

/**
 * The {@link Backend} of the out-of-process plugin in `dir` (its `lode-plugin.json` must list the
 * `backend` hook group), started on first use, sandboxed as its manifest declares; `close` stops it.
 */
export async function openPluginBackend(
  dir: string,
  options: OpenPluginBackendOptions = {},
): Promise<Backend> {
  const manifest = await readManifest(dir);
  if (!manifest.hooks.includes("backend")) {
    throw new LodeError("PLUGIN_MANIFEST_INVALID", `plugin ${manifest.name} implements no backend hooks`, {
      details: { plugin: manifest.name, field: "hooks", file: manifest.file },
    });
  }
  const supervised = new SupervisedPlugin(manifest, options);
  const hooks = remotePlugin(supervised, options).backend!;
  return pluginBackend(hooks, { plugin: manifest.name, shutdown: () => supervised.shutdown() });
}
