/**
 * A client of the daemon's inference socket (docs/protocol.md), and a
 * {@link Session} over it: what `lode run`, `chat` and `embed` use when a
 * `lode serve` of their store is running. Requests are multiplexed on one
 * connection (ids `c1`, `c2`, …); each request's frames are delivered to it
 * as they arrive; an `error` frame becomes the {@link LodeError} it names.
 * Aborting a request's signal sends `cancel` for it.
 *
 * @example
 * ```ts
 * const client = await DaemonClient.connect("/run/user/1000/lode/lode.sock");
 * const health = await client.health();
 * const session = await client.session("stories260K");
 * console.log((await session.generate("Once upon a time", { maxTokens: 20 }).result).text);
 * client.close();
 * ```
 * @module
 */
import type { z } from "zod";
import { ERROR_CODES, isLodeError, LodeError } from "../../errors.ts";
import type {
  ChatMessage,
  EmbedOptions,
  GenerateOptions,
  GenerateResult,
  Generation,
  Session,
  SessionInfo,
} from "../../inference/backend.ts";
import { createGeneration } from "../../inference/generation.ts";
import { NdjsonConnection } from "./ndjson_connection.ts";
import { type FrameOf, PROTOCOL_VERSION, type Request, type RequestOf, ResponseFrame } from "./protocol.ts";
import { invalidFrame } from "./decode_request.ts";
import { samplingFields, toolCallDelta, toolFields, usageOf, wireMessages } from "./protocol_backend.ts";

type Listener = (frame: ResponseFrame) => void;

/**
 * A request without its id (the client chooses it).
 *
 * @example
 * ```ts
 * import type { RequestBody } from "./client.ts";
 * const body: RequestBody = { op: "tokenize", model: "stories260K", text: "hi" };
 * ```
 */
export type RequestBody = { [O in Request["op"]]: Omit<RequestOf<O>, "id"> }[Request["op"]];

/**
 * An inference socket connection.
 *
 * @example
 * ```ts
 * import { DaemonClient } from "./client.ts";
 * const client = await DaemonClient.connect("/tmp/lode-1000/lode.sock");
 * console.log((await client.health()).status);
 * client.close();
 * ```
 */
export class DaemonClient {
  readonly #conn: NdjsonConnection;
  readonly #listeners = new Map<string, Listener>();
  #next = 1;
  #closed = false;

  private constructor(conn: Deno.Conn) {
    this.#conn = new NdjsonConnection(conn, { maxLineBytes: 64 * 1024 * 1024 });
    void this.#read();
  }

  /**
   * Connects to the socket at `path`; rejects with `DAEMON_NOT_RUNNING` when
   * nothing listens there.
   *
   * @example
   * ```ts
   * const client = await DaemonClient.connect("/tmp/lode-1000/lode.sock");
   * ```
   */
  static async connect(path: string): Promise<DaemonClient> {
    try {
      return new DaemonClient(await Deno.connect({ transport: "unix", path }));
    } catch (e) {
      throw new LodeError("DAEMON_NOT_RUNNING", `no lode daemon answers on ${path}`, {
        details: { socket: path },
        cause: e,
      });
    }
  }

  /**
   * Sends one request (its `id` is chosen here) and calls `onFrame` with each
   * of its frames; resolves with the terminal `done` frame, rejects with the
   * `error` frame's LodeError. Aborting `signal` sends `cancel`.
   */
  request(
    body: RequestBody,
    options: { onFrame?: Listener; signal?: AbortSignal } = {},
  ): Promise<FrameOf<"done">> {
    if (this.#closed) return Promise.reject(gone());
    const id = `c${this.#next++}`;
    const { promise, resolve, reject } = Promise.withResolvers<FrameOf<"done">>();
    const onAbort = () => void this.#conn.send({ id: `${id}-cancel`, op: "cancel", target: id });
    this.#listeners.set(id, (frame) => {
      if (frame.type === "done" || frame.type === "error") {
        this.#listeners.delete(id);
        options.signal?.removeEventListener("abort", onAbort);
        if (frame.type === "done") resolve(frame);
        else reject(fromErrorFrame(frame));
        return;
      }
      options.onFrame?.(frame);
    });
    options.signal?.addEventListener("abort", onAbort, { once: true });
    void this.#conn.send({ ...body, id, v: PROTOCOL_VERSION });
    return promise;
  }

  /** The `health` answer. */
  async health(): Promise<FrameOf<"health">> {
    let health: FrameOf<"health"> | undefined;
    await this.request({ op: "health" }, { onFrame: (f) => f.type === "health" && (health = f) });
    if (!health) throw new LodeError("INTERNAL", "the daemon answered health without a health frame");
    return health;
  }

  /**
   * Loads `model` in the daemon (if it is not; with `contextSize`, reloaded with that context if it is
   * loaded with another) and returns a {@link Session} that runs there.
   */
  async session(
    model: string,
    options: { signal?: AbortSignal; contextSize?: number } = {},
  ): Promise<Session> {
    let loaded: FrameOf<"loaded"> | undefined;
    await this.request({ op: "load", model, context_size: options.contextSize }, {
      onFrame: (f) => f.type === "loaded" && (loaded = f),
      signal: options.signal,
    });
    if (!loaded) throw new LodeError("INTERNAL", "the daemon answered load without a loaded frame");
    return new DaemonSession(this, loaded);
  }

  /** Closes the connection; requests in flight reject (the daemon cancels them). */
  close(): void {
    this.#closed = true;
    this.#conn.close();
  }

  async #read(): Promise<void> {
    for await (const item of this.#conn.lines()) {
      if (item.type !== "line") continue;
      let value: unknown;
      try {
        value = JSON.parse(new TextDecoder().decode(item.bytes));
      } catch {
        continue; // not a frame at all: nothing to tell it to
      }
      const parsed = ResponseFrame.safeParse(value);
      if (parsed.success) {
        if (parsed.data.id !== null) this.#listeners.get(parsed.data.id)?.(parsed.data);
        continue;
      }
      // A frame type of a newer daemon is ignored; a known type that breaks its schema fails its request.
      const broken = unreadable(value, parsed.error);
      if (broken !== null) this.#listeners.get(broken.id)?.(broken);
    }
    this.#closed = true;
    const error = gone();
    for (const listener of [...this.#listeners.values()]) {
      listener({ id: "", type: "error", code: error.code, message: error.message });
    }
    this.#listeners.clear();
  }
}

class DaemonSession implements Session {
  readonly #client: DaemonClient;
  readonly #model: string;
  readonly capabilities: Session["capabilities"];
  readonly info: SessionInfo;

  constructor(client: DaemonClient, loaded: FrameOf<"loaded">) {
    this.#client = client;
    this.#model = loaded.model;
    this.capabilities = loaded.capabilities;
    const { info } = loaded;
    this.info = {
      path: `daemon:${loaded.model}`,
      architecture: info.architecture,
      contextSize: loaded.context_size,
      trainContextSize: info.train_context_size,
      threads: info.threads,
      hasChatTemplate: info.has_chat_template,
      embeddingSize: info.embedding_size,
      loadMs: loaded.load_ms,
      ...(info.cpus !== undefined ? { cpus: info.cpus } : {}),
    };
  }

  generate(prompt: string, options: GenerateOptions = {}): Generation {
    return this.#stream({ op: "generate", model: this.#model, prompt, ...samplingFields(options) }, options);
  }

  chat(messages: ChatMessage[], options: GenerateOptions = {}): Generation {
    const fields = { ...samplingFields(options), ...toolFields(options) };
    return this.#stream(
      { op: "chat", model: this.#model, messages: wireMessages(messages), ...fields },
      options,
    );
  }

  async renderChat(messages: ChatMessage[]): Promise<string> {
    let text = "";
    await this.#client.request({ op: "render_chat", model: this.#model, messages: wireMessages(messages) }, {
      onFrame: (f) => f.type === "text" && (text = f.text),
    });
    return text;
  }

  async embed(texts: string[], options: EmbedOptions = {}): Promise<number[][]> {
    let vectors: number[][] = [];
    await this.#client.request(
      { op: "embed", model: this.#model, input: texts, normalize: options.normalize ?? true },
      { onFrame: (f) => f.type === "embeddings" && (vectors = f.embeddings), signal: options.signal },
    ).catch((e) => {
      throw cancelledAsInterrupted(e);
    });
    return vectors;
  }

  async tokenize(text: string): Promise<number[]> {
    let tokens: number[] = [];
    await this.#client.request({ op: "tokenize", model: this.#model, text }, {
      onFrame: (f) => f.type === "tokens" && (tokens = f.tokens),
    });
    return tokens;
  }

  async detokenize(tokens: number[]): Promise<string> {
    let text = "";
    await this.#client.request({ op: "detokenize", model: this.#model, tokens }, {
      onFrame: (f) => f.type === "text" && (text = f.text),
    }).catch((e) => {
      // An id the model does not have: the Session contract's USAGE (the daemon names the field).
      throw isLodeError(e, "BAD_REQUEST") ? new LodeError("USAGE", e.message, { details: e.details }) : e;
    });
    return text;
  }

  close(): Promise<void> {
    return Promise.resolve(); // the model stays loaded in the daemon (keep-alive)
  }

  #stream(body: RequestBody, options: GenerateOptions): Generation {
    const started = performance.now();
    return createGeneration(async (emit, signal) => {
      let text = "";
      let chunks = 0;
      let first: number | null = null;
      let done: FrameOf<"done">;
      try {
        done = await this.#client.request(body, {
          signal,
          onFrame: (f) => {
            if (f.type === "tool_call") {
              try {
                options.onToolCallDelta?.(toolCallDelta(f));
              } catch { /* an observer's failure is not the generation's */ }
              return;
            }
            if (f.type !== "token") return;
            first ??= performance.now();
            chunks++;
            text += f.text;
            emit(f.text);
          },
        });
      } catch (e) {
        // A cancelled generation ends like an aborted local one: the text so far, stop reason "abort".
        if (signal.aborted && e instanceof LodeError && e.code === "CANCELLED") {
          return { text, stopReason: "abort", usage: localUsage(chunks, started, first) };
        }
        throw e;
      }
      const result: GenerateResult = {
        text,
        stopReason: done.stop_reason ?? "eos",
        usage: usageOf(done.usage, performance.now() - started),
        ...(done.tool_calls === undefined ? {} : { toolCalls: done.tool_calls }),
      };
      return result;
    }, options.signal ? { signal: options.signal } : {});
  }
}

/** Usage of a generation cancelled before its `done` frame, from what this side saw (a token frame is one chunk). */
function localUsage(chunks: number, started: number, first: number | null): GenerateResult["usage"] {
  const totalMs = performance.now() - started;
  return {
    promptTokens: 0,
    generatedTokens: chunks,
    loadMs: 0,
    timeToFirstTokenMs: first === null ? null : first - started,
    totalMs,
    tokensPerSecond: 0,
  };
}

function cancelledAsInterrupted(e: unknown): unknown {
  return e instanceof LodeError && e.code === "CANCELLED"
    ? new LodeError("INTERRUPTED", "embedding stopped")
    : e;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(ResponseFrame.options.map((o) => o.shape.type.value));

/**
 * The `error` frame that stands for a frame of a known type that does not match its schema (a
 * `loaded` frame without `capabilities`): a daemon that breaks protocol 1 fails the request it
 * answers, with a message naming the frame and the field. Null for a frame of an unknown type (a
 * newer daemon's: ignored) or without a usable id.
 */
function unreadable(value: unknown, error: z.ZodError): FrameOf<"error"> & { id: string } | null {
  if (typeof value !== "object" || value === null) return null;
  const { id, type } = value as Record<string, unknown>;
  if (typeof id !== "string" || typeof type !== "string" || !KNOWN_TYPES.has(type)) return null;
  const subject = `the daemon's "${type}" frame (protocol ${PROTOCOL_VERSION})`;
  const { details, message } = invalidFrame(error, value, subject, ResponseFrame);
  return {
    id,
    type: "error",
    code: "INTERNAL",
    message,
    hint: "The daemon and this lode do not speak the same protocol: restart `lode serve` with this lode, " +
      "or run with --no-daemon.",
    details: { ...details, frame_type: type },
  };
}

function fromErrorFrame(frame: FrameOf<"error">): LodeError {
  const known = frame.code in ERROR_CODES ? frame.code as LodeError["code"] : "INTERNAL";
  return new LodeError(known, frame.message, {
    details: { ...frame.details, ...(known === frame.code ? {} : { daemon_code: frame.code }) },
    ...(frame.hint ? { hint: frame.hint } : {}),
  });
}

function gone(): LodeError {
  return new LodeError("DAEMON_NOT_RUNNING", "the daemon closed the connection", {
    hint: "The daemon stopped or restarted; run the command again (or with --no-daemon).",
  });
}
