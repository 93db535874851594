/**
 * The SDK for lode plugins: {@link definePlugin} takes a plugin's hooks and speaks lode's plugin protocol
 * on stdin and stdout (docs/plugins.md): it says hello, answers calls (with their progress), honours
 * cancellation (a cancelled call is still answered), reports an access the sandbox refused as a
 * `denied` error naming the permission, and exits on `exit`. It has no dependency besides the contract
 * (src/plugin/api.ts), so a plugin runs under `deno run` with no import map.
 *
 * @example
 * ```ts
 * import { definePlugin } from "./mod.ts";
 * definePlugin({
 *   name: "mirror",
 *   version: "1.0.0",
 *   registry: {
 *     schemes: ["mirror"],
 *     resolve: (ref) =>
 *       Promise.resolve({
 *         name: ref.rest,
 *         reference: ref.reference,
 *         source: { registry: "mirror", repo: "", revision: "" },
 *         files: [{
 *           role: "model",
 *           filename: `${ref.rest}.gguf`,
 *           urls: [`https://mirror.internal/${ref.rest}.gguf`],
 *           sha256: "0".repeat(64),
 *           sizeBytes: 1,
 *         }],
 *       }),
 *   },
 * });
 * ```
 * @module
 */
import {
  API_VERSION,
  type BackendHooks,
  type CallContext,
  type FileFacts,
  type PluginSession,
  PROTOCOL_VERSIONS,
  type RegistryHooks,
} from "../../src/plugin/api.ts";
import type { Envelope } from "../../src/events/envelope.ts";

export type * from "../../src/plugin/api.ts";

/** A sink as a plugin implements it: one call per envelope of the event stream. */
export interface SinkDefinition {
  event(envelope: Envelope, context: CallContext): void | Promise<void>;
  close?(): Promise<void>;
}

/**
 * The optional protocol features a plugin may declare (docs/plugins.md, "Features"): `tools` (its sessions'
 * `chat` takes tools and answers with tool calls), `render_chat` (its sessions implement `renderChat`),
 * `large_frames` (lines up to 256 MiB both ways). A session still says what it does in its `features`.
 */
export type OptionalFeature = "tools" | "render_chat" | "large_frames";

/** A plugin: its name and version, and the hooks it implements. */
export interface PluginDefinition {
  name: string;
  version?: string;
  /** The optional features it implements, listed in its hello. */
  features?: OptionalFeature[];
  registry?: RegistryHooks;
  sink?: SinkDefinition;
  backend?: BackendHooks;
}

/** Where {@link serve} reads and writes frames (the process's stdin and stdout by default). */
export interface ServeStreams {
  input: ReadableStream<Uint8Array>;
  output: WritableStream<Uint8Array>;
  /** Called with the exit code when the host says `exit` or closes stdin. */
  exit(code: number): void;
}

type Frame = Record<string, unknown> & { type?: unknown; id?: unknown };

/**
 * A failure reported with a code of lode's error catalogue (docs/exit-codes.md) instead of
 * `PLUGIN_FAILED`: lode raises it as that code, with `details`, tagged with the plugin and hook. A backend
 * throws `new PluginError("USAGE", "maxTokens must be at least 1")` where lode's own backend would
 * reject with `USAGE`.
 */
export class PluginError extends Error {
  override readonly name = "PluginError";
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

const PERMISSION = /Requires (\w+) access(?: to "?([^",]+)"?)?/;

/** The `error` of an error frame for `e`: a sandbox refusal becomes `denied` with its permission. */
export function wireError(e: unknown, cancelled: boolean): Record<string, unknown> {
  const message = e instanceof Error ? e.message : String(e);
  const refused = e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
  const m = PERMISSION.exec(message);
  if (refused || m) {
    return { kind: "denied", message, ...(m ? { permission: m[1], ...(m[2] ? { target: m[2] } : {}) } : {}) };
  }
  if (e instanceof PluginError) return { kind: "failed", message, code: e.code, details: e.details };
  return { kind: cancelled ? "cancelled" : "failed", message };
}

/** Speaks the protocol for `plugin` on `streams` until the host says `exit`. */
export async function serve(plugin: PluginDefinition, streams: ServeStreams): Promise<void> {
  const encoder = new TextEncoder();
  const writer = streams.output.getWriter();
  let writing: Promise<void> = Promise.resolve();
  const send = (frame: Record<string, unknown>) => {
    const line = encoder.encode(JSON.stringify(frame) + "\n");
    writing = writing.then(() => writer.write(line)).catch(() => {});
    return writing;
  };
  const running = new Map<number, AbortController>();
  const sessions = new Map<string, PluginSession>();
  let nextSession = 1;
  const hooks = (["registry", "sink", "backend"] as const).filter((h) => plugin[h] !== undefined);
  send({
    type: "hello",
    protocol: [...PROTOCOL_VERSIONS],
    api_version: API_VERSION,
    name: plugin.name,
    version: plugin.version ?? "0.0.0",
    hooks,
    features: ["cancel", "progress", ...(plugin.features ?? [])],
  });

  const session = (params: Record<string, unknown>): PluginSession => {
    const found = sessions.get(String(params.session));
    if (found === undefined) throw new Error(`no session ${String(params.session)}`);
    return found;
  };
  // deno-lint-ignore no-explicit-any
  const dispatch = async (hook: string, p: any, context: CallContext): Promise<unknown> => {
    switch (hook) {
      case "shutdown":
        return null;
      case "registry.resolve":
        if (plugin.registry) return await plugin.registry.resolve(p, context);
        break;
      case "registry.credentials":
        if (plugin.registry) return (await plugin.registry.credentials?.(p.host, context)) ?? null;
        break;
      case "sink.event":
        if (plugin.sink) return (await plugin.sink.event(p.envelope, context), null);
        break;
      case "sink.close":
        if (plugin.sink) return (await plugin.sink.close?.(), null);
        break;
      case "backend.probe":
        if (plugin.backend) return await plugin.backend.probe(p.path, context, facts(p));
        break;
      case "backend.load":
        if (plugin.backend) {
          const loaded = await plugin.backend.load(p.path, p.options ?? {}, context, facts(p));
          const id = `s${nextSession++}`;
          sessions.set(id, loaded);
          const features = loaded.features === undefined ? {} : { features: loaded.features };
          return { session: id, capabilities: loaded.capabilities, info: loaded.info, ...features };
        }
        break;
      case "session.generate":
        return await session(p).generate(p.prompt, p.options ?? {}, context);
      case "session.chat":
        return await session(p).chat(p.messages, p.options ?? {}, context);
      case "session.renderChat": {
        const s = session(p);
        if (s.renderChat) return await s.renderChat(p.messages, context);
        break;
      }
      case "session.embed":
        return await session(p).embed(p.texts, p.options ?? {}, context);
      case "session.tokenize":
        return await session(p).tokenize(p.text, context);
      case "session.detokenize":
        return await session(p).detokenize(p.tokens, context);
      case "session.close": {
        const s = session(p);
        sessions.delete(String(p.session));
        return (await s.close(), null);
      }
    }
    throw Object.assign(new Error(`${plugin.name} does not implement ${hook}`), { unknownHook: true });
  };

  const call = async (id: number, hook: string, params: unknown) => {
    const controller = new AbortController();
    running.set(id, controller);
    const context: CallContext = {
      signal: controller.signal,
      progress: (data) => void send({ type: "progress", id, data }),
    };
    try {
      const value = await dispatch(hook, params, context);
      await send(
        controller.signal.aborted ? cancelledFrame(id) : { type: "result", id, value: value ?? null },
      );
    } catch (e) {
      const error = (e as { unknownHook?: boolean }).unknownHook
        ? { kind: "unknown_hook", message: (e as Error).message }
        : wireError(e, controller.signal.aborted);
      await send({ type: "error", id, error });
    } finally {
      running.delete(id);
    }
  };

  for await (const line of lines(streams.input)) {
    let frame: Frame;
    try {
      frame = JSON.parse(line);
    } catch {
      console.error(`${plugin.name}: the host sent a line that is not JSON`);
      continue;
    }
    if (frame.type === "hello") {
      const theirs = Array.isArray(frame.protocol) ? frame.protocol : [];
      if (!PROTOCOL_VERSIONS.some((v) => theirs.includes(v))) {
        console.error(`${plugin.name}: the host speaks protocol ${theirs.join(", ")}; this SDK speaks 1`);
        await writing;
        return streams.exit(3);
      }
    } else if (frame.type === "call" && typeof frame.id === "number") {
      void call(frame.id, String(frame.hook), frame.params);
    } else if (frame.type === "cancel" && typeof frame.id === "number") {
      running.get(frame.id)?.abort(new DOMException("cancelled by the host", "AbortError"));
    } else if (frame.type === "exit") {
      break;
    }
  }
  await writing;
  streams.exit(0);
}

/** The {@link FileFacts} of `backend.probe` and `backend.load` params. */
function facts(p: { fileName?: unknown }): FileFacts {
  return typeof p.fileName === "string" ? { fileName: p.fileName } : {};
}

function cancelledFrame(id: number): Record<string, unknown> {
  return { type: "error", id, error: { kind: "cancelled", message: "cancelled by the host" } };
}

async function* lines(input: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of input) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf("\n")) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() !== "") yield line;
    }
  }
}

/** Defines a plugin and serves it on the process's stdin and stdout. */
export function definePlugin(plugin: PluginDefinition): PluginDefinition {
  void serve(plugin, {
    input: Deno.stdin.readable,
    output: Deno.stdout.writable,
    exit: (code) => Deno.exit(code),
  });
  return plugin;
}
