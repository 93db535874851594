/**
 * The inference socket's model ops — `generate`, `chat`, `embed`,
 * `tokenize`, `detokenize`, `render_chat`, `models`, `load`, `unload` — run
 * by the {@link InferenceService} and answered in the socket's NDJSON frames
 * (docs/protocol.md): `queued` and `loading` frames while a request waits,
 * one `token` frame per generated text, then the result frames and `done`'s
 * `usage` and `stop_reason`.
 *
 * The handler sends the frames a request streams (`queued`, `loading`,
 * `token`) itself and returns the rest — the result frames and `done`'s
 * `usage` — for the caller to send; a failure is thrown as the `LodeError`
 * to send as its `error` frame (as the service reports it). `health` and `cancel`
 * concern the connection and the daemon and are answered by the server
 * (inference_server.ts).
 *
 * @example
 * ```ts
 * import { handleRequest, type RequestContext } from "./request_handler.ts";
 * declare const ctx: RequestContext; // the service, the request's key and signal, how to send frames
 * const handled = await handleRequest({ id: "g1", op: "generate", model: "m", prompt: "Once" }, ctx);
 * for (const frame of handled.frames) ctx.send(frame);
 * ctx.send({ id: "g1", type: "done", usage: handled.usage });
 * ```
 * @module
 */
import type { ActivityRecord } from "./activity_log.ts";
import { embedActivity, generationActivity, tokensActivity } from "./activity_fields.ts";
import type { InferenceService, ServiceCall, WaitEvent } from "./inference_service.ts";
import type { DoneUsage, FrameOf, Request, RequestOf, ResponseFrame, ToolCall } from "../wire/protocol.ts";
import {
  chatMessages,
  samplingOptions,
  toolCallFrame,
  toolOptions,
  usageFrom,
} from "../wire/protocol_backend.ts";
import type { ToolCallDelta } from "../../inference/backend.ts";

/**
 * What a request handler needs.
 *
 * @example
 * ```ts
 * import type { RequestContext } from "./request_handler.ts";
 * const keyOf = (ctx: RequestContext) => ctx.key; // "<connection>/<id>"
 * ```
 */
export interface RequestContext {
  service: InferenceService;
  /** The request's admission key, unique in the daemon (`<connection>/<id>`). */
  key: string;
  /** Aborted when the request is cancelled, its client leaves, or a drain runs out of time. */
  signal: AbortSignal;
  /** Queues a frame for the client (never waits). */
  send(frame: ResponseFrame): void;
  /** Resolves when the client has taken enough of the queued frames (paces a stream to a slow reader). */
  backpressure(): Promise<void>;
}

/**
 * A request's outcome, for the caller to send and log.
 *
 * @example
 * ```ts
 * import type { Handled } from "./request_handler.ts";
 * const frames = (h: Handled) => h.frames.length;
 * ```
 */
export interface Handled {
  /** Frames that answer the request, before `done`. */
  frames: ResponseFrame[];
  usage?: DoneUsage;
  stopReason?: FrameOf<"done">["stop_reason"];
  /** The tool calls of a chat answer, for `done.tool_calls`. */
  toolCalls?: ToolCall[];
  /** Fields for the activity log. */
  activity: Partial<ActivityRecord>;
}

/**
 * The model ops this module handles.
 *
 * @example
 * ```ts
 * import type { ModelOp } from "./request_handler.ts";
 * const op: ModelOp = "tokenize";
 * ```
 */
export type ModelOp = Exclude<Request["op"], "health" | "cancel" | `job_${string}`>;

/**
 * Runs one request of a model op; resolves with its answer or rejects with
 * the `LodeError` to send as its `error` frame.
 *
 * @example
 * ```ts
 * import type { RequestContext } from "./request_handler.ts";
 * declare const ctx: RequestContext;
 * const { frames } = await handleRequest({ id: "t1", op: "tokenize", model: "m", text: "hi" }, ctx);
 * ```
 */
export async function handleRequest(request: RequestOf<ModelOp>, ctx: RequestContext): Promise<Handled> {
  const { service } = ctx;
  const { id } = request;
  const call: ServiceCall = { key: ctx.key, signal: ctx.signal, onWait: (e) => ctx.send(waitFrame(id, e)) };
  switch (request.op) {
    case "generate":
    case "chat":
      return await generate(request, ctx, call);
    case "embed": {
      const input = typeof request.input === "string" ? [request.input] : request.input;
      const embedded = await service.embed(request.model, input, { normalize: request.normalize }, call);
      return {
        frames: [{ id, type: "embeddings", embeddings: embedded.embeddings }],
        usage: { queue_ms: embedded.queueMs },
        activity: embedActivity(embedded, input),
      };
    }
    case "tokenize": {
      const { model, tokens } = await service.tokenize(request.model, request.text, call);
      return tokenized(request, model, tokens);
    }
    case "detokenize": {
      const { model, text } = await service.detokenize(request.model, request.tokens, call);
      return detokenized(request, model, text);
    }
    case "render_chat": {
      const { model, text } = await service.renderChat(request.model, chatMessages(request.messages), call);
      return {
        frames: [{ id, type: "text", text }],
        activity: { model, count: request.messages.length, output: text },
      };
    }
    case "models":
      return { frames: [{ id, type: "models", models: await service.models() }], activity: {} };
    case "load":
      return await load(request, service, call);
    case "unload": {
      const wasLoaded = await service.unload(request.model);
      return {
        frames: [{ id, type: "unloaded", model: request.model, was_loaded: wasLoaded }],
        activity: { model: request.model },
      };
    }
  }
}

/**
 * `tokenize` and `detokenize` of a model whose vocabulary is open in this process: answered at once
 * (no lease, no queue, no runner), like `health`; null when the model has none open (then
 * {@link handleRequest} answers through a lease). Throws the request's error (`BAD_REQUEST` for a token
 * id outside the vocabulary).
 *
 * @example
 * ```ts
 * import type { InferenceService } from "./inference_service.ts";
 * declare const service: InferenceService;
 * const now = answerAtOnce({ id: "t", op: "tokenize", model: "m", text: "hi" }, service);
 * if (now) console.log(now.frames); // [{ id: "t", type: "tokens", tokens: [...] }]
 * ```
 */
export function answerAtOnce(request: Request, service: InferenceService): Handled | null {
  if (request.op === "tokenize") {
    const tokens = service.tokenizeNow(request.model, request.text);
    return tokens === null ? null : tokenized(request, request.model, tokens);
  }
  if (request.op === "detokenize") {
    const text = service.detokenizeNow(request.model, request.tokens);
    return text === null ? null : detokenized(request, request.model, text);
  }
  return null;
}

/** The frame that tells a waiting request its place in the queue, or a phase of its model's load. */
function waitFrame(id: string, event: WaitEvent): ResponseFrame {
  return event.type === "queued"
    ? { id, type: "queued", position: event.position }
    : { id, type: "loading", ...event.phase };
}

function tokenized(request: RequestOf<"tokenize">, model: string, tokens: number[]): Handled {
  return {
    frames: [{ id: request.id, type: "tokens", tokens }],
    activity: tokensActivity(model, tokens, request.text),
  };
}

function detokenized(request: RequestOf<"detokenize">, model: string, text: string): Handled {
  return {
    frames: [{ id: request.id, type: "text", text }],
    activity: tokensActivity(model, request.tokens, text),
  };
}

async function generate(
  request: RequestOf<"generate" | "chat">,
  ctx: RequestContext,
  call: ServiceCall,
): Promise<Handled> {
  const input = request.op === "generate"
    ? { model: request.model, prompt: request.prompt }
    : { model: request.model, messages: chatMessages(request.messages) };
  const onToolCallDelta = (delta: ToolCallDelta) => ctx.send(toolCallFrame(request.id, delta));
  const options = request.op === "chat"
    ? { ...samplingOptions(request), ...toolOptions(request), onToolCallDelta }
    : samplingOptions(request);
  const generation = await ctx.service.generate(input, options, call);
  // One `token` frame per text, the frames of a burst (a runner's `chunks` message) queued together so
  // that they leave in one write: per-frame writes cost the daemon and its client a wake-up per token.
  for await (const texts of generation.batches()) {
    for (const text of texts) ctx.send({ id: request.id, type: "token", text });
    await ctx.backpressure();
  }
  const result = await generation.result;
  return {
    frames: [],
    usage: usageFrom(result.usage, { queueMs: generation.queueMs }),
    stopReason: result.stopReason,
    ...(result.toolCalls === undefined ? {} : { toolCalls: result.toolCalls }),
    activity: generationActivity(generation, result, input),
  };
}

async function load(
  request: RequestOf<"load">,
  service: InferenceService,
  call: ServiceCall,
): Promise<Handled> {
  const settings = {
    ...(request.context_size !== undefined ? { contextSize: request.context_size } : {}),
    ...(request.keep_alive_ms !== undefined ? { keepAliveMs: request.keep_alive_ms } : {}),
  };
  const loaded = await service.load(request.model, settings, call);
  const { info } = loaded;
  const frame: FrameOf<"loaded"> = {
    id: request.id,
    type: "loaded",
    model: loaded.model,
    load_ms: loaded.loadMs,
    context_size: info.contextSize,
    ...(loaded.keepAliveMs !== undefined
      ? { keep_alive_ms: loaded.keepAliveMs === Infinity ? null : loaded.keepAliveMs }
      : {}),
    capabilities: loaded.capabilities,
    info: {
      architecture: info.architecture,
      train_context_size: info.trainContextSize,
      threads: info.threads,
      has_chat_template: info.hasChatTemplate,
      embedding_size: info.embeddingSize,
      model_load_ms: Math.round(info.loadMs * 1000) / 1000,
      ...(info.cpus !== undefined ? { cpus: info.cpus } : {}),
    },
  };
  return { frames: [frame], activity: { model: loaded.model } };
}
