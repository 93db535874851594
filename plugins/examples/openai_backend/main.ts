/**
 * An out-of-process backend that forwards to any OpenAI-compatible server, so lode can front a remote GPU
 * machine. It claims `*.remote.json` files (remote_model.ts; by the file name lode gives when the path does
 * not end in it, as for a model in the store); loading one checks that the server serves the
 * model and measures its embeddings; a session streams `/v1/completions` and `/v1/chat/completions` as
 * server-sent events and embeds through `/v1/embeddings`. It declares the protocol's `tools` feature: a chat's
 * tools, tool calls and tool results go to the server as OpenAI's (openai_tools.ts), for a model whose
 * `.remote.json` says it has a chat template.
 *
 * What the OpenAI API cannot give it reports as false in its session's features rather than
 * approximating: the model's token ids (`tokenize`), raw embeddings (`rawEmbeddings`: servers answer
 * normalized vectors), and load options (`loadOptions`: the server's operator set the context size).
 *
 * @example
 * ```ts
 * import { backend } from "./main.ts";
 * await backend.probe("models/stories260K.remote.json", { signal: new AbortController().signal, progress: () => {} });
 * ```
 * @module
 */
import {
  type BackendHooks,
  type CallContext,
  type ChatMessageDescriptor,
  definePlugin,
  type FileFacts,
  type GenerateDescriptor,
  type GenerateResultDescriptor,
  PluginError,
  type PluginSession,
  type StopReason,
} from "../../sdk/mod.ts";
import { events, request } from "./openai_client.ts";
import { parseRemoteModel, REMOTE_SUFFIX, type RemoteModel } from "./remote_model.ts";
import { StopText } from "./stop_text.ts";
import { openAiMessages, ToolCallStream, toolFields } from "./openai_tools.ts";

const NAME = "openai_backend";

function envBaseUrl(): string | undefined {
  try {
    return Deno.env.get("LODE_OPENAI_BASE_URL") || undefined;
  } catch {
    return undefined;
  }
}

/** The remote model in the file at `path`, named `file.fileName` when its path does not say (the store's blob). */
async function readRemote(path: string, file: FileFacts = {}): Promise<RemoteModel> {
  const name = file.fileName ?? path;
  if (!name.endsWith(REMOTE_SUFFIX)) throw new Error(`${name} is not a ${REMOTE_SUFFIX} file`);
  return parseRemoteModel(await Deno.readTextFile(path), name, envBaseUrl());
}

/** Refuses options lode's own backend refuses, with the same code. */
function checkOptions(o: GenerateDescriptor): void {
  if (o.maxTokens !== undefined && (!Number.isInteger(o.maxTokens) || o.maxTokens < 1)) {
    throw new PluginError("USAGE", `maxTokens must be a whole number of at least 1, not ${o.maxTokens}`);
  }
}

/** The sampling fields of a request body (temperature 0 unless asked: lode's default is greedy). */
function sampling(remote: RemoteModel, o: GenerateDescriptor): Record<string, unknown> {
  return {
    model: remote.model,
    stream: true,
    stream_options: { include_usage: true },
    temperature: o.temperature ?? 0,
    ...(o.maxTokens === undefined ? {} : { max_tokens: o.maxTokens }),
    ...(o.seed === undefined ? {} : { seed: o.seed }),
    ...(o.topP === undefined ? {} : { top_p: o.topP }),
    ...(o.topK === undefined ? {} : { top_k: o.topK }),
    ...(o.repeatPenalty === undefined ? {} : { repeat_penalty: o.repeatPenalty }),
    ...(o.jsonSchema === undefined
      ? {}
      : { response_format: { type: "json_schema", json_schema: { name: "output", schema: o.jsonSchema } } }),
  };
}

/** Streams one completion or chat request, chunk by chunk as progress, with stop strings applied here. */
async function stream(
  remote: RemoteModel,
  path: "/completions" | "/chat/completions",
  body: Record<string, unknown>,
  o: GenerateDescriptor,
  context: CallContext,
  loadMs: number,
): Promise<GenerateResultDescriptor> {
  const started = performance.now();
  const controller = new AbortController();
  const signal = AbortSignal.any([context.signal, controller.signal]);
  const stops = new StopText(o.stop ?? []);
  const calls = new ToolCallStream();
  let chunks = 0;
  let first: number | null = null;
  let finish: unknown = null;
  type ServerUsage = { prompt_tokens?: number; completion_tokens?: number };
  let usage: ServerUsage | null = null;
  const show = (text: string) => text !== "" && context.progress({ text });
  try {
    const response = await request(remote, path, body, signal);
    for await (const event of events(response)) {
      if (event.usage) usage = event.usage as ServerUsage;
      const choice = (event.choices as Record<string, unknown>[] | undefined)?.[0];
      if (choice === undefined) continue;
      const delta = choice.delta as { tool_calls?: unknown } | undefined;
      calls.push(delta?.tool_calls, (toolCall) => context.progress({ toolCall }));
      const text = path === "/completions"
        ? choice.text
        : (choice.delta as { content?: unknown } | undefined)?.content;
      if (typeof text === "string" && text !== "") {
        first ??= performance.now() - started;
        chunks++;
        show(stops.push(text));
        if (stops.stopped) {
          controller.abort();
          break;
        }
      }
      if (choice.finish_reason != null) finish = choice.finish_reason;
    }
  } catch (e) {
    if (!controller.signal.aborted || context.signal.aborted) throw e;
  }
  show(stops.end());
  const generated = stops.stopped ? chunks : usage?.completion_tokens ?? chunks;
  let stopReason: StopReason = "eos";
  if (context.signal.aborted) stopReason = "abort";
  else if (stops.stopped) stopReason = "stop";
  else if (calls.calls.length > 0) stopReason = "tool_calls";
  else if (finish === "length") {
    stopReason = o.maxTokens !== undefined && generated >= o.maxTokens ? "max_tokens" : "context_full";
  }
  const totalMs = performance.now() - started;
  const streaming = first === null ? totalMs : totalMs - first;
  return {
    text: stops.text,
    stopReason,
    ...(stopReason === "tool_calls" ? { toolCalls: calls.calls } : {}),
    usage: {
      promptTokens: usage?.prompt_tokens ?? 0,
      generatedTokens: generated,
      loadMs,
      timeToFirstTokenMs: first,
      totalMs,
      tokensPerSecond: generated > 0 ? generated / (Math.max(streaming, 1) / 1000) : 0,
    },
  };
}

async function embed(remote: RemoteModel, texts: string[], signal: AbortSignal): Promise<number[][]> {
  const response = await request(remote, "/embeddings", { model: remote.model, input: texts }, signal);
  const body = await response.json() as { data?: { index: number; embedding: number[] }[] };
  const data = [...(body.data ?? [])].sort((a, b) => a.index - b.index);
  if (data.length !== texts.length || data.some((d) => !Array.isArray(d.embedding))) {
    throw new PluginError(
      "INFERENCE_FAILED",
      `the server gave ${data.length} vectors for ${texts.length} texts`,
    );
  }
  return data.map((d) => d.embedding);
}

const ROLES = ["system", "user", "assistant", "tool"];
const noTokens = () =>
  Promise.reject(
    new PluginError("INFERENCE_FAILED", "the OpenAI API gives no token ids: this backend cannot tokenize"),
  );

async function load(path: string, context: CallContext, file?: FileFacts): Promise<PluginSession> {
  const started = performance.now();
  let remote: RemoteModel;
  try {
    remote = await readRemote(path, file);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) throw e;
    throw new PluginError("MODEL_LOAD_FAILED", (e as Error).message, { path });
  }
  try {
    await (await request(remote, `/models/${encodeURIComponent(remote.model)}`, undefined, context.signal))
      .body
      ?.cancel();
  } catch (e) {
    if (!(e instanceof PluginError)) throw e;
    throw new PluginError(
      "MODEL_LOAD_FAILED",
      `${remote.baseUrl} does not serve ${remote.model}: ${e.message}`,
      {
        path,
        http_status: e.details.http_status,
      },
    );
  }
  let embeddingSize = 0;
  try {
    embeddingSize = (await embed(remote, ["lode"], context.signal))[0]!.length;
  } catch (e) {
    if (context.signal.aborted) throw e; // a model that does not embed is still a model
  }
  const loadMs = performance.now() - started;
  const open = new Set<AbortController>();
  const call = async <T>(context: CallContext, run: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const own = new AbortController();
    open.add(own);
    try {
      return await run(AbortSignal.any([context.signal, own.signal]));
    } finally {
      open.delete(own);
    }
  };
  const generation = (
    endpoint: "/completions" | "/chat/completions",
    fields: Record<string, unknown>,
    o: GenerateDescriptor,
    context: CallContext,
  ) => {
    checkOptions(o);
    return call(
      context,
      (signal) =>
        stream(remote, endpoint, { ...fields, ...sampling(remote, o) }, o, { ...context, signal }, loadMs),
    );
  };
  return {
    capabilities: {
      backend: NAME,
      v2: false,
      vision: false,
      audio: false,
      // A chat model's server takes tools (lode's own, llama.cpp's, vLLM's), forwarded as OpenAI's.
      tools: remote.hasChatTemplate,
      thinking: false,
      embed: embeddingSize > 0,
      accelerator: "remote",
      gpu_layers: 0,
    },
    info: {
      path,
      architecture: "remote",
      contextSize: remote.contextSize,
      trainContextSize: remote.contextSize,
      threads: 0,
      hasChatTemplate: remote.hasChatTemplate,
      embeddingSize,
      loadMs,
    },
    features: { tokenize: false, rawEmbeddings: false, loadOptions: false, tools: true },
    generate: (prompt, o, context) => generation("/completions", { prompt }, o, context),
    chat: (messages: ChatMessageDescriptor[], o, context) => {
      if (!Array.isArray(messages) || messages.length === 0) {
        throw new PluginError("USAGE", "a chat needs at least one message");
      }
      const bad = messages.findIndex((m) => !ROLES.includes(m?.role) || typeof m.content !== "string");
      if (bad !== -1) {
        throw new PluginError(
          "USAGE",
          `message ${bad} needs a role (${ROLES.join(", ")}) and a text content`,
        );
      }
      if (!remote.hasChatTemplate && (o.tools?.length ?? 0) > 0 && o.toolChoice !== "none") {
        throw new PluginError(
          "USAGE",
          "this model cannot call tools: its .remote.json says it has no chat template",
          { field: "tools" },
        );
      }
      return generation(
        "/chat/completions",
        { messages: openAiMessages(messages), ...toolFields(o) },
        o,
        context,
      );
    },
    embed: (texts, o, context) => {
      if (o.normalize === false) {
        throw new PluginError("INFERENCE_FAILED", "OpenAI-compatible servers give normalized vectors only");
      }
      const empty = texts.findIndex((t) => t === "");
      if (empty !== -1) throw new PluginError("USAGE", `text ${empty} is empty`, { index: empty });
      return call(context, (signal) => embed(remote, texts, signal));
    },
    tokenize: noTokens,
    detokenize: noTokens,
    close: () => {
      for (const controller of open) controller.abort();
      return Promise.resolve();
    },
  };
}

/** The backend's hooks. */
export const backend: BackendHooks = {
  name: NAME,
  async probe(path, _context, file) {
    try {
      const remote = await readRemote(path, file);
      return { ok: true, format: "openai-remote", architecture: `remote:${remote.model}` };
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
  },
  load: (path, _options, context, file) => load(path, context, file),
};

if (import.meta.main) definePlugin({ name: NAME, version: "1.0.0", features: ["tools"], backend });
