/**
 * What the daemon does for one request of the model ops — `generate`,
 * `chat`, `embed`, `tokenize`, `detokenize`, `render_chat`, `models`, `load`, `unload` — given the router,
 * the admission queue and a way to send frames. `generate`, `chat` and
 * `embed` take an admission slot first (they are the work the queue bounds;
 * `queued` frames tell their position while they wait); `tokenize`,
 * `detokenize`, `render_chat`, `load`, `unload` and `models` do not wait in the queue. A
 * request waiting for its model's load is sent that load's phases as
 * `loading` frames.
 *
 * The handler sends the frames a request streams (`queued`, `token`) itself
 * and returns the rest — the result frames and `done`'s `usage` — for the
 * caller to send; a failure is thrown as a {@link LodeError} (when the
 * request's signal was aborted, its reason: `CANCELLED`, `DRAINING`).
 * `health` and `cancel` concern the connection and the daemon and are
 * answered by the server (inference_server.ts).
 *
 * @example
 * ```ts
 * const handled = await handleRequest(request, { router, queue, key: "1/g1", signal, send });
 * for (const frame of handled.frames) send(frame);
 * send({ id: request.id, type: "done", usage: handled.usage });
 * ```
 * @module
 */
import { isLodeError, LodeError, toLodeError } from "../../errors.ts";
import type { Generation, Session } from "../../inference/backend.ts";
import { chunkBatches } from "../../inference/generation.ts";
import type { AdmissionQueue } from "./admission_queue.ts";
import type { ActivityRecord } from "./activity_log.ts";
import type { FrameOf, Request, RequestOf, ResponseFrame, Usage } from "../wire/protocol.ts";
import { samplingOptions, usageFrom } from "../wire/protocol_backend.ts";
import type { Lease, Router } from "../router/router.ts";

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
  router: Router;
  queue: AdmissionQueue;
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
  usage?: Usage;
  stopReason?: FrameOf<"done">["stop_reason"];
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
export type ModelOp = Exclude<Request["op"], "health" | "cancel">;

/**
 * Runs one request of a model op; resolves with its answer or rejects with
 * the {@link LodeError} to send as its `error` frame.
 *
 * @example
 * ```ts
 * const { frames } = await handleRequest({ id: "t1", op: "tokenize", model: "m", text: "hi" }, ctx);
 * ```
 */
export async function handleRequest(
  request: RequestOf<ModelOp>,
  ctx: RequestContext,
): Promise<Handled> {
  try {
    switch (request.op) {
      case "generate":
      case "chat":
        return await generate(request, ctx);
      case "embed":
        return await embed(request, ctx);
      case "tokenize":
        return await tokenize(request, ctx);
      case "detokenize":
        return await detokenize(request, ctx);
      case "render_chat":
        return await withLease(ctx, request, ctx.signal, async (lease) => {
          const text = await lease.session.renderChat(request.messages);
          return {
            frames: [{ id: request.id, type: "text", text }],
            activity: { model: lease.model, count: request.messages.length, output: text },
          };
        });
      case "models":
        return {
          frames: [{ id: request.id, type: "models", models: await ctx.router.models() }],
          activity: {},
        };
      case "load":
        return await load(request, ctx);
      case "unload": {
        const wasLoaded = await ctx.router.unload(request.model);
        return {
          frames: [{ id: request.id, type: "unloaded", model: request.model, was_loaded: wasLoaded }],
          activity: { model: request.model },
        };
      }
    }
  } catch (e) {
    throw inputField(failure(e, ctx.signal), request.op);
  }
}

/** The request field a CONTEXT_LENGTH_EXCEEDED is about, as both fronts name it. */
const INPUT_FIELD: Partial<Record<ModelOp, string>> = {
  generate: "prompt",
  chat: "messages",
  embed: "input",
};

/** `e` with `details.field` naming the request's input when it is a `CONTEXT_LENGTH_EXCEEDED`. */
function inputField(e: LodeError, op: ModelOp): LodeError {
  const field = INPUT_FIELD[op];
  if (!isLodeError(e, "CONTEXT_LENGTH_EXCEEDED") || field === undefined || "field" in e.details) return e;
  return new LodeError(e.code, e.message, { details: { ...e.details, field }, hint: e.hint, cause: e });
}

/**
 * The error to report for `e`: the abort reason when `signal` was aborted
 * with a {@link LodeError} (a cancel, a drain), else `e` as a LodeError.
 *
 * @example
 * ```ts
 * failure(new LodeError("INTERRUPTED", "load aborted"), signal); // LodeError CANCELLED after a cancel
 * ```
 */
export function failure(e: unknown, signal: AbortSignal): LodeError {
  if (signal.aborted && signal.reason instanceof LodeError) return signal.reason;
  return toLodeError(e);
}

/** While a load goes on without a new phase (a slow download), its last `loading` frame is sent again this often. */
export const LOADING_REPEAT_MS = 1000;

/** Leases the request's model for `body` ({@link acquireTelling}). */
async function withLease<T>(
  ctx: RequestContext,
  request: { id: string; model: string },
  signal: AbortSignal,
  body: (lease: Lease) => Promise<T>,
): Promise<T> {
  const lease = await acquireTelling(ctx, request, { signal });
  try {
    if (signal.aborted) throw signal.reason;
    return await body(lease);
  } finally {
    lease.release();
  }
}

/**
 * Acquires the request's model. While the request waits for the model to load (a pull first, when
 * the daemon performs one), each phase of that load is sent to the client as a `loading` frame, the
 * last one again every {@link LOADING_REPEAT_MS} while nothing new happens: the client sees the
 * progress, and a client that left is noticed within that time (a Unix socket tells a closed peer
 * only on write), so its request stops waiting and a pull no other request waits for is abandoned.
 * The router's status events name the model by its store name once known (`nameOf`).
 */
async function acquireTelling(
  ctx: RequestContext,
  request: { id: string; model: string },
  options: Parameters<Router["acquire"]>[1] & { signal: AbortSignal },
): Promise<Lease> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tell = (frame: FrameOf<"loading">) => {
    clearTimeout(timer);
    ctx.send(frame);
    timer = setTimeout(() => tell(frame), LOADING_REPEAT_MS);
  };
  const stop = ctx.router.onStatus(({ model, event }) => {
    if (event.status !== "loading_model" && event.status !== "restarting") return;
    if (model !== request.model && model !== ctx.router.nameOf?.(request.model)) return;
    const { status: _, ...phase } = event;
    tell({ id: request.id, type: "loading", ...phase });
  });
  try {
    return await ctx.router.acquire(request.model, options);
  } finally {
    stop();
    clearTimeout(timer);
  }
}

async function admitted<T>(
  ctx: RequestContext,
  request: { id: string; model: string },
  body: (signal: AbortSignal, queueMs: number) => Promise<T>,
): Promise<T> {
  const admission = await ctx.queue.admit({
    model: ctx.router.nameOf?.(request.model) ?? request.model,
    key: ctx.key,
    signal: ctx.signal,
    onPosition: (position) => ctx.send({ id: request.id, type: "queued", position }),
  });
  try {
    return await body(admission.signal, admission.waitMs);
  } catch (e) {
    throw failure(e, admission.signal);
  } finally {
    admission.release();
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
 * const now = answerAtOnce({ id: "t", op: "tokenize", model: "m", text: "hi" }, router);
 * if (now) console.log(now.frames); // [{ id: "t", type: "tokens", tokens: [...] }]
 * ```
 */
export function answerAtOnce(request: Request, router: Router): Handled | null {
  if (request.op !== "tokenize" && request.op !== "detokenize") return null;
  const vocabulary = router.vocabulary?.(request.model);
  if (vocabulary === undefined) return null;
  if (request.op === "tokenize") return tokenized(request, request.model, vocabulary.tokenize(request.text));
  try {
    return detokenized(request, request.model, vocabulary.detokenize(request.tokens));
  } catch (e) {
    throw badToken(e);
  }
}

function tokenized(request: RequestOf<"tokenize">, model: string, tokens: number[]): Handled {
  return {
    frames: [{ id: request.id, type: "tokens", tokens }],
    activity: { model, count: tokens.length, output: request.text },
  };
}

function detokenized(request: RequestOf<"detokenize">, model: string, text: string): Handled {
  return {
    frames: [{ id: request.id, type: "text", text }],
    activity: { model, count: request.tokens.length, output: text },
  };
}

async function tokenize(request: RequestOf<"tokenize">, ctx: RequestContext): Promise<Handled> {
  return await withLease(
    ctx,
    request,
    ctx.signal,
    async (lease) => tokenized(request, lease.model, await lease.session.tokenize(request.text)),
  );
}

function generate(request: RequestOf<"generate" | "chat">, ctx: RequestContext): Promise<Handled> {
  return admitted(ctx, request, (signal, queueMs) =>
    withLease(ctx, request, signal, async (lease) => {
      const options = { ...samplingOptions(request), signal };
      const generation: Generation = request.op === "generate"
        ? lease.session.generate(request.prompt, options)
        : lease.session.chat(request.messages, options);
      // One `token` frame per text, the frames of a burst (a runner's `chunks` message) queued together so
      // that they leave in one write: per-frame writes cost the daemon and its client a wake-up per token.
      for await (const texts of chunkBatches(generation)) {
        for (const text of texts) ctx.send({ id: request.id, type: "token", text });
        await ctx.backpressure();
      }
      const result = await generation.result;
      if (signal.aborted) throw signal.reason;
      const usage = usageFrom(result.usage, { queueMs: round(queueMs) });
      return {
        frames: [],
        usage,
        stopReason: result.stopReason,
        activity: {
          model: lease.model,
          queue_ms: usage.queue_ms,
          prompt_tokens: usage.prompt_tokens,
          completion_tokens: usage.completion_tokens,
          time_to_first_token_ms: usage.time_to_first_token_ms,
          tokens_per_second: usage.tokens_per_second,
          stop_reason: result.stopReason,
          ...(request.op === "generate" ? { prompt: request.prompt } : { messages: request.messages }),
          output: result.text,
        },
      };
    }));
}

function embed(request: RequestOf<"embed">, ctx: RequestContext): Promise<Handled> {
  const input = typeof request.input === "string" ? [request.input] : request.input;
  return admitted(ctx, request, (signal, queueMs) =>
    withLease(ctx, request, signal, async (lease) => {
      const embeddings = await lease.session.embed(input, { normalize: request.normalize ?? true, signal });
      return {
        frames: [{ id: request.id, type: "embeddings", embeddings }],
        usage: { queue_ms: round(queueMs) },
        activity: { model: lease.model, queue_ms: round(queueMs), count: input.length, output: input },
      };
    }));
}

/** Through a lease (a vocabulary open in this process answers first: {@link answerAtOnce}). */
async function detokenize(request: RequestOf<"detokenize">, ctx: RequestContext): Promise<Handled> {
  return await withLease(
    ctx,
    request,
    ctx.signal,
    (lease) =>
      lease.session.detokenize(request.tokens).then(
        (text) => detokenized(request, lease.model, text),
        (e) => {
          throw badToken(e);
        },
      ),
  );
}

/**
 * A session's refusal of a token id (`USAGE`, with the item's `index` in its details: an id outside
 * the vocabulary, which the session checks before llama.cpp would abort the runner on it) as the
 * protocol's `BAD_REQUEST` naming the field, `tokens.<index>`; any other failure unchanged.
 */
function badToken(e: unknown): unknown {
  if (!isLodeError(e, "USAGE")) return e;
  const index = e.details.index;
  const field = typeof index === "number" ? `tokens.${index}` : "tokens";
  return new LodeError("BAD_REQUEST", `detokenize: field "${field}" is invalid: ${e.message}`, {
    details: { ...e.details, field },
  });
}

async function load(request: RequestOf<"load">, ctx: RequestContext): Promise<Handled> {
  const started = performance.now();
  const lease = await acquireTelling(ctx, request, {
    signal: ctx.signal,
    ...(request.context_size !== undefined ? { contextSize: request.context_size } : {}),
    ...(request.keep_alive_ms !== undefined ? { keepAliveMs: request.keep_alive_ms } : {}),
  });
  try {
    const session: Session = lease.session;
    const loadMs = round(performance.now() - started);
    const frame: FrameOf<"loaded"> = {
      id: request.id,
      type: "loaded",
      model: lease.model,
      load_ms: loadMs,
      context_size: session.info.contextSize,
      ...(lease.keepAliveMs !== undefined
        ? { keep_alive_ms: lease.keepAliveMs === Infinity ? null : lease.keepAliveMs }
        : {}),
      capabilities: session.capabilities,
      info: {
        architecture: session.info.architecture,
        train_context_size: session.info.trainContextSize,
        threads: session.info.threads,
        has_chat_template: session.info.hasChatTemplate,
        embedding_size: session.info.embeddingSize,
        model_load_ms: round(session.info.loadMs),
        ...(session.info.cpus !== undefined ? { cpus: session.info.cpus } : {}),
      },
    };
    return { frames: [frame], activity: { model: lease.model } };
  } finally {
    lease.release();
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
