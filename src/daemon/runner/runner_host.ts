/**
 * The backend plugin a runner process is: the hooks of the protocol's backend part (runner_protocol.ts)
 * answered by an in-process {@link Backend} (llama.cpp). One model a runner: `backend.load` once, then the
 * session's hooks, several at once (the backend decodes up to the load's `sequences` together and queues
 * the rest); each call has an abort signal its `cancel` fires, and is always answered — a cancelled
 * generation with its result (`stopReason: "abort"`), anything else with its error.
 *
 * @example
 * ```ts
 * import { RunnerHost } from "./runner_host.ts";
 * import { createLlamaCppBackend } from "../../inference/llama_cpp_backend.ts";
 * const host = new RunnerHost(createLlamaCppBackend(), (frame) => console.log(frame), ["chunks"]);
 * host.call(1, "backend.probe", { path: "tests/fixtures/stories260K.gguf" });
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { Backend, Session, ToolCallDelta } from "../../inference/backend.ts";
import type { Feature } from "../../plugin/plugin_protocol.ts";
import { ChunkBatcher } from "./chunk_batcher.ts";
import {
  checkRunnerCall,
  CHUNK_FLUSH_MS,
  FAST_CHUNK_FLUSH,
  type RunnerCall,
  type RunnerFrame,
  toWireError,
} from "./runner_protocol.ts";

/** How long closing waits for the backend to free the model before the runner goes on anyway. */
const DISPOSE_TIMEOUT_MS = 3000;

/** The id of the one session a runner holds. */
const SESSION_ID = "s1";

/** The session of one runner and its running calls. */
export class RunnerHost {
  readonly #backend: Backend;
  readonly #send: (frame: RunnerFrame) => void;
  readonly #features: ReadonlySet<Feature>;
  readonly #running = new Map<number, AbortController>();
  readonly #chunks: ChunkBatcher;
  #session: Promise<Session> | undefined;
  #closing: Promise<void> | undefined;

  /** `features`: those both hellos listed (they decide how chunks, tool calls and load phases are sent). */
  constructor(backend: Backend, send: (frame: RunnerFrame) => void, features: readonly Feature[]) {
    this.#backend = backend;
    this.#send = send;
    this.#features = new Set(features);
    this.#chunks = new ChunkBatcher((id, texts) => send({ type: "progress", id, data: { texts } }), {
      flushMs: CHUNK_FLUSH_MS,
      fast: FAST_CHUNK_FLUSH,
    });
  }

  /** Answers call `id` (with progress frames before its `result` or `error`). */
  call(id: number, hook: string, params: unknown): void {
    const controller = new AbortController();
    this.#running.set(id, controller);
    let call: RunnerCall | null;
    try {
      call = checkRunnerCall(hook, params);
    } catch (e) {
      this.#answer(id, Promise.reject(e), controller.signal);
      return;
    }
    if (call === null) {
      this.#running.delete(id);
      this.#send({
        type: "error",
        id,
        error: { kind: "unknown_hook", message: `the runner does not implement ${hook}` },
      });
      return;
    }
    this.#answer(id, this.#run(id, call, controller.signal), controller.signal);
  }

  /** Fires the signal of call `id` (its answer still comes). */
  cancel(id: number): void {
    this.#running.get(id)?.abort(new DOMException("cancelled by the daemon", "AbortError"));
  }

  /** Aborts every running call (the daemon is gone, or the runner is closing). */
  abortAll(): void {
    for (const c of this.#running.values()) c.abort(new DOMException("the runner is stopping", "AbortError"));
  }

  /** Aborts every running call and frees the model and the backend (waiting at most a few seconds). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.abortAll();
      const session = await this.#session?.catch(() => undefined);
      await within(
        DISPOSE_TIMEOUT_MS,
        (async () => {
          await session?.close();
          await this.#backend.close();
        })(),
      );
    })();
    return this.#closing;
  }

  #answer(id: number, answer: Promise<unknown>, signal: AbortSignal): void {
    answer.then(
      (value) => {
        this.#chunks.finish(id); // every chunk before the result
        this.#send({ type: "result", id, value: value ?? null });
      },
      (e) => {
        this.#chunks.finish(id);
        this.#send({ type: "error", id, error: toWireError(e, signal.aborted) });
      },
    ).finally(() => this.#running.delete(id));
  }

  async #run(id: number, call: RunnerCall, signal: AbortSignal): Promise<unknown> {
    switch (call.hook) {
      case "shutdown":
        return await this.close();
      case "backend.probe":
        return await this.#backend.probe(call.params.path);
      case "backend.load": {
        if (this.#session !== undefined) {
          throw new LodeError("INTERNAL", "this runner already loaded a model");
        }
        const status = this.#features.has("load_status");
        this.#session = this.#backend.load(call.params.path, {
          ...call.params.options,
          onStatus: (event) => status && this.#send({ type: "progress", id, data: event }),
          signal,
        });
        const session = await this.#session;
        const features = session.features ?? {
          tokenize: true,
          renderChat: true,
          rawEmbeddings: true,
          loadOptions: true,
        };
        return {
          session: SESSION_ID,
          capabilities: session.capabilities,
          info: session.info,
          features: {
            ...features,
            renderChat: features.renderChat && this.#features.has("render_chat"),
            tools: this.#features.has("tools"),
          },
        };
      }
      case "session.generate":
      case "session.chat": {
        const session = await this.#loaded(call.params.session);
        const onToolCallDelta = (delta: ToolCallDelta) => {
          this.#chunks.flush(); // the text before a call goes first
          this.#send({ type: "progress", id, data: { toolCall: delta } });
        };
        const options = {
          ...call.params.options,
          signal,
          ...(this.#features.has("tools") ? { onToolCallDelta } : {}),
        };
        const generation = call.hook === "session.generate"
          ? session.generate(call.params.prompt, options)
          : session.chat(call.params.messages, options);
        if (this.#features.has("chunks")) {
          for await (const text of generation) this.#chunks.push(id, text);
        } else {
          for await (const text of generation) this.#send({ type: "progress", id, data: { text } });
        }
        return await generation.result;
      }
      case "session.renderChat":
        return (await this.#loaded(call.params.session)).renderChat(call.params.messages);
      case "session.embed": {
        const { normalize } = call.params.options;
        return (await this.#loaded(call.params.session)).embed(call.params.texts, { normalize, signal });
      }
      case "session.tokenize":
        return (await this.#loaded(call.params.session)).tokenize(call.params.text);
      case "session.detokenize":
        return (await this.#loaded(call.params.session)).detokenize(call.params.tokens);
      case "session.close": {
        const session = await this.#loaded(call.params.session);
        for (const [other, c] of this.#running) {
          if (other !== id) c.abort(new DOMException("the session is closing", "AbortError"));
        }
        await within(DISPOSE_TIMEOUT_MS, session.close());
        return null;
      }
    }
  }

  #loaded(id: string): Promise<Session> {
    if (this.#session === undefined) {
      throw new LodeError("INTERNAL", "the runner has not loaded a model yet");
    }
    if (id !== SESSION_ID) throw new LodeError("INTERNAL", `the runner has no session ${id}`);
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
