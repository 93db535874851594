/**
 * A backend plugin's loaded session (api.ts's {@link PluginSession}) as the in-process {@link Session} of
 * backend.ts; plugin_backend.ts makes its sessions with it, and so does the daemon for a model in a runner
 * process (the runner is a backend plugin built into lode).
 *
 * - A generation streams the plugin's progress frames as its chunks, as they come: `{text}`, `{texts}` (the
 *   `chunks` feature: several in order) and `{toolCall}` (the `tools` feature: given to `onToolCallDelta`).
 *   Text of its result it did not stream comes as a last chunk; a result that contradicts the stream is
 *   `PLUGIN_PROTOCOL`.
 * - Aborting it cancels the plugin's call, which the plugin still answers: with its result (a backend that
 *   stops says `stopReason: "abort"` with its own usage), or with a cancellation, after which the generation
 *   ends with `stopReason: "abort"` and the text streamed so far.
 * - Tools (`features.tools`) and `renderChat` (`features.renderChat`) only when the session says it has
 *   them; else a chat with tools is `USAGE` and `renderChat` `INFERENCE_FAILED`, before the plugin is asked.
 *
 * @example
 * ```ts
 * import type { PluginSession } from "../plugin/api.ts";
 * import { pluginSession } from "./plugin_session.ts";
 * declare const loaded: PluginSession;
 * const session = pluginSession(loaded, "my_backend", () => {});
 * console.log((await session.generate("Once upon a time", { maxTokens: 20 }).result).text);
 * ```
 * @module
 */
import { isLodeError, LodeError } from "../errors.ts";
import type { CallContext, ChatMessageDescriptor, GenerateDescriptor, PluginSession } from "../plugin/api.ts";
import { pluginError } from "../plugin/plugin_error.ts";
import type {
  ChatMessage,
  GenerateOptions,
  GenerateResult,
  Generation,
  Session,
  SessionFeatures,
  ToolCallDelta,
} from "./backend.ts";
import { createGeneration } from "./generation.ts";

const noop = () => {};

/** The wire part of generate options (the signal and the delta callback stay here; tools when carried). */
function descriptor(options: GenerateOptions, tools: boolean): GenerateDescriptor {
  const {
    signal: _signal,
    onToolCallDelta: _delta,
    tools: given,
    toolChoice,
    parallelToolCalls,
    ...rest
  } = options;
  if (!tools) return rest;
  return {
    ...rest,
    ...(given === undefined ? {} : { tools: given }),
    ...(toolChoice === undefined ? {} : { toolChoice }),
    ...(parallelToolCalls === undefined ? {} : { parallelToolCalls }),
  };
}

/** Without the `tools` feature a chat that gives tools or holds tool calls or results is refused. */
function toolsRefused(messages: ChatMessage[], options: GenerateOptions): string | null {
  if ((options.tools?.length ?? 0) > 0 && options.toolChoice !== "none") return "tools";
  if (typeof options.toolChoice === "object" || options.toolChoice === "required") return "toolChoice";
  const held = messages.some((m) => m.role === "tool" || (m.toolCalls?.length ?? 0) > 0);
  return held ? "messages" : null;
}

/** `messages` in the plugin protocol's form: text only, unless tools are carried. */
function wireMessages(messages: ChatMessage[], tools: boolean): ChatMessageDescriptor[] {
  if (tools) return messages;
  return messages.map((m) => ({ role: m.role, content: m.content }));
}

/** A result as JSON carried it: a speed that was not finite (null on the wire) is 0. */
function finite(result: GenerateResult): GenerateResult {
  if (typeof result.usage?.tokensPerSecond !== "number") result.usage.tokensPerSecond = 0;
  return result;
}

/** The {@link Session} of a plugin's session; `forget` is called once it is closed. */
export function pluginSession(loaded: PluginSession, plugin: string, forget: () => void): Session {
  const features: SessionFeatures = {
    tokenize: loaded.features?.tokenize ?? true,
    renderChat: loaded.features?.renderChat === true && loaded.renderChat !== undefined,
    rawEmbeddings: loaded.features?.rawEmbeddings ?? true,
    loadOptions: loaded.features?.loadOptions ?? true,
  };
  const tools = loaded.features?.tools === true;
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
        const chunk = (piece: unknown) => {
          if (typeof piece !== "string" || piece === "") return;
          first ??= performance.now() - started;
          text += piece;
          chunks++;
          emit(piece);
        };
        const progress = (data: unknown) => {
          if (typeof data !== "object" || data === null) return;
          const d = data as { text?: unknown; texts?: unknown; toolCall?: unknown };
          if (Array.isArray(d.texts)) { for (const piece of d.texts) chunk(piece); }
          else if (d.text !== undefined) chunk(d.text);
          else if (tools && d.toolCall !== undefined) {
            try {
              options.onToolCallDelta?.(d.toolCall as ToolCallDelta);
            } catch {
              // An observer's failure is not the generation's (GenerateOptions.onToolCallDelta).
            }
          }
        };
        try {
          const result = finite(await call({ signal: inner, progress }));
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
    // Without the `tools` feature the protocol carries no tools.
    capabilities: { ...loaded.capabilities, tools: tools && loaded.capabilities.tools },
    info: { ...loaded.info },
    features,
    generate: (prompt, options = {}) =>
      stream("session.generate", (c) => loaded.generate(prompt, descriptor(options, tools), c), options),
    chat: (messages, options = {}) => {
      const refusal = tools ? null : toolsRefused(messages, options);
      if (refusal !== null) {
        const e = new LodeError(
          "USAGE",
          `plugin ${plugin}'s sessions take no tools: it does not declare the protocol's \`tools\` feature`,
          {
            details: { plugin, field: refusal },
          },
        );
        return createGeneration(() => Promise.reject(e));
      }
      return stream(
        "session.chat",
        (c) => loaded.chat(wireMessages(messages, tools), descriptor(options, tools), c),
        options,
      );
    },
    renderChat: (messages) =>
      features.renderChat
        ? unary("session.renderChat", undefined, (c) => loaded.renderChat!(wireMessages(messages, tools), c))
        : Promise.reject(
          refused(
            "session.renderChat",
            "this session cannot show the text a chat feeds its model (no `render_chat` feature)",
          ),
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
