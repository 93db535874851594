/**
 * The runner process (`lode __runner --socket PATH`): hosts one model of one
 * backend and answers the daemon's requests (runner_protocol.ts) over the
 * Unix socket the daemon listens on, so a crash in native code takes down
 * this process, not the daemon. Requests run concurrently with reading (a
 * `cancel` reaches a running generation); the session itself runs
 * generations one after another. When the connection ends (the daemon went
 * away, even by SIGKILL) the runner stops at once. stdout and stderr are the
 * runner's log, which the daemon keeps a tail of.
 *
 * @example
 * ```ts
 * import { runnerMain } from "./runner_main.ts";
 * Deno.exit(await runnerMain({ args: Deno.args.slice(1) })); // what main.ts does for `lode __runner`
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { Backend, Session, ToolCallDelta } from "../../inference/backend.ts";
import { createLlamaCppBackend } from "../../inference/llama_cpp_backend.ts";
import { NdjsonConnection } from "../wire/ndjson_connection.ts";
import { ChunkBatcher } from "./chunk_batcher.ts";
import {
  CHUNK_FLUSH_MS,
  decodeRunnerRequest,
  FAST_CHUNK_FLUSH,
  RUNNER_MAX_LINE_BYTES,
  runnerLine,
  type RunnerReply,
  type RunnerRequest,
  toWireError,
} from "./runner_protocol.ts";

/** How long `close` waits for the backend to free the model before the runner exits anyway. */
const DISPOSE_TIMEOUT_MS = 3000;

/** Options of {@link runnerMain}. */
export interface RunnerMainOptions {
  /** The arguments after `__runner`: `--socket PATH`, the daemon's socket to connect to. */
  args: string[];
  /** The backend hosting the model (default: node-llama-cpp). */
  backend?: () => Backend;
}

/**
 * Serves one runner until `close` or the end of the connection; returns the exit code (0; 2 without a
 * socket to connect to).
 *
 * @example
 * ```ts
 * const code = await runnerMain({ args: ["--socket", "/tmp/lode-runner-x/runner.sock"] });
 * ```
 */
export async function runnerMain(options: RunnerMainOptions): Promise<number> {
  const at = options.args.indexOf("--socket");
  const path = at === -1 ? undefined : options.args[at + 1];
  if (path === undefined) {
    console.error(
      "lode __runner is started by the daemon (`lode serve`), not by hand: it needs --socket PATH",
    );
    return 2;
  }
  const socket = await Deno.connect({ transport: "unix", path });
  const conn = new NdjsonConnection(socket, { maxLineBytes: RUNNER_MAX_LINE_BYTES });
  const host = new RunnerHost(options.backend ?? (() => createLlamaCppBackend()), (reply) => {
    conn.enqueue(runnerLine(reply));
  });
  const decoder = new TextDecoder();
  for await (const item of conn.lines()) {
    if (item.type !== "line") continue;
    const decoded = decodeRunnerRequest(decoder.decode(item.bytes));
    if (!decoded.ok) {
      console.error(`lode runner: ignoring a malformed request: ${decoded.error.message}`);
      if (decoded.id !== null) {
        conn.enqueue(runnerLine({ id: decoded.id, type: "error", error: toWireError(decoded.error) }));
      }
      continue;
    }
    const request = decoded.request;
    if (request.op === "close") {
      await host.close();
      conn.enqueue(runnerLine({ id: request.id, type: "result", value: null }));
      await conn.end();
      return 0;
    }
    host.handle(request);
  }
  host.abortAll(); // the daemon is gone: nobody is left to answer
  return 0;
}

/** The session of one runner and its running requests. */
class RunnerHost {
  readonly #backend: Backend;
  readonly #send: (reply: RunnerReply) => void;
  readonly #running = new Map<number, AbortController>();
  readonly #chunks: ChunkBatcher;
  #session: Promise<Session> | undefined;

  constructor(backend: () => Backend, send: (reply: RunnerReply) => void) {
    this.#backend = backend();
    this.#send = send;
    this.#chunks = new ChunkBatcher((id, texts) => send({ id, type: "chunks", texts }), {
      flushMs: CHUNK_FLUSH_MS,
      fast: FAST_CHUNK_FLUSH,
    });
  }

  handle(request: Exclude<RunnerRequest, { op: "close" }>): void {
    if (request.op === "cancel") {
      this.#running.get(request.target)?.abort(new DOMException("cancelled by the daemon", "AbortError"));
      return;
    }
    const controller = new AbortController();
    this.#running.set(request.id, controller);
    this.#run(request, controller.signal).then(
      (value) => {
        this.#chunks.finish(request.id); // every chunk before the result
        this.#send({ id: request.id, type: "result", value });
      },
      (e) => {
        this.#chunks.finish(request.id);
        this.#send({ id: request.id, type: "error", error: toWireError(e) });
      },
    ).finally(() => this.#running.delete(request.id));
  }

  abortAll(): void {
    for (const c of this.#running.values()) c.abort(new DOMException("the runner is stopping", "AbortError"));
  }

  async close(): Promise<void> {
    this.abortAll();
    const session = await this.#session?.catch(() => undefined);
    await within(
      DISPOSE_TIMEOUT_MS,
      (async () => {
        await session?.close();
        await this.#backend.close();
      })(),
    );
  }

  async #run(
    request: Exclude<RunnerRequest, { op: "close" | "cancel" }>,
    signal: AbortSignal,
  ): Promise<unknown> {
    const { id } = request;
    switch (request.op) {
      case "load": {
        if (this.#session !== undefined) {
          throw new LodeError("INTERNAL", "this runner already loaded a model");
        }
        this.#session = this.#backend.load(request.path, {
          ...request.options,
          onStatus: (event) => this.#send({ id, type: "status", event }),
          signal,
        });
        const session = await this.#session;
        return { capabilities: session.capabilities, info: session.info };
      }
      case "generate":
      case "chat": {
        const session = await this.#loaded();
        const onToolCallDelta = (delta: ToolCallDelta) => {
          this.#chunks.flush(); // the text before a call goes first
          this.#send({ id, type: "toolCall", delta });
        };
        const options = { ...request.options, signal, onToolCallDelta };
        const generation = request.op === "generate"
          ? session.generate(request.prompt, options)
          : session.chat(request.messages, options);
        for await (const text of generation) this.#chunks.push(id, text);
        return await generation.result;
      }
      case "renderChat":
        return (await this.#loaded()).renderChat(request.messages);
      case "embed":
        return (await this.#loaded()).embed(request.texts, { normalize: request.normalize, signal });
      case "tokenize":
        return (await this.#loaded()).tokenize(request.text);
      case "detokenize":
        return (await this.#loaded()).detokenize(request.tokens);
    }
  }

  #loaded(): Promise<Session> {
    if (this.#session === undefined) throw new LodeError("INTERNAL", "the runner has not loaded a model yet");
    return this.#session;
  }
}

/** Waits for `promise`, but at most `ms`. */
async function within(ms: number, promise: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([promise.catch(() => {}), new Promise((r) => (timer = setTimeout(r, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
