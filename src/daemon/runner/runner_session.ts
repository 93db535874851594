/**
 * A {@link Session} whose model runs in a runner process (`lode __runner`,
 * see runner_main.ts): request handling uses the same Session API whether a
 * model runs in-process or out of it. Generations stream their chunks from
 * the runner; an abort signal (or leaving the loop) sends the runner a
 * `cancel`, and the generation ends with `stopReason: "abort"` as in-process.
 *
 * When the runner dies unasked (exit, signal, broken pipe) every pending
 * generation, embedding and call rejects with `LodeError("RUNNER_CRASHED")`,
 * so does every later call, and {@link RunnerSession.exited} reports it.
 *
 * @example
 * ```ts
 * import { startRunnerSession } from "./runner_session.ts";
 * const session = await startRunnerSession("tests/fixtures/stories260K.gguf", { load: { threads: 1 } });
 * console.log(session.pid, (await session.generate("Once upon a time", { maxTokens: 20 }).result).text);
 * await session.close();
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type {
  Capabilities,
  ChatMessage,
  EmbedOptions,
  GenerateOptions,
  GenerateResult,
  Generation,
  Session,
  SessionInfo,
  StatusEvent,
} from "../../inference/backend.ts";
import { createGeneration } from "../../inference/generation.ts";
import { RunnerClient, type RunnerExit, type RunnerSpawnOptions } from "./runner_client.ts";
import { type RunnerCommand, runnerCommand } from "./runner_command.ts";
import type { RunnerLoadOptions } from "./runner_protocol.ts";

/** Options of {@link startRunnerSession}. */
export interface StartRunnerOptions extends Pick<RunnerSpawnOptions, "onLog" | "env"> {
  /** How the model is loaded (context size, threads, GPU, memory check). */
  load?: RunnerLoadOptions;
  /** The load's status events (`loading_model` mmap / kv_cache, `capabilities`), as the runner reports them. */
  onStatus?: (event: StatusEvent) => void;
  /** Aborting while loading kills the runner; the start rejects with `INTERRUPTED`. */
  signal?: AbortSignal;
  /** The runner executable (default {@link runnerCommand}). */
  command?: RunnerCommand;
  /** How long {@link RunnerSession.close} waits for the runner to exit before killing it (default 5000 ms). */
  closeTimeoutMs?: number;
  /** Where the runner's socket directory is made (default: the system's temporary directory). */
  socketDir?: string;
}

/**
 * Starts a runner process and loads the model at `path` in it. Rejects with the load's error
 * (`MODEL_LOAD_FAILED`, `INSUFFICIENT_MEMORY`, …; the runner is then stopped), `INTERRUPTED` when
 * `signal` aborts, or `RUNNER_CRASHED` when the runner dies while loading.
 */
export async function startRunnerSession(
  path: string,
  options: StartRunnerOptions = {},
): Promise<RunnerSession> {
  const { signal } = options;
  if (signal?.aborted) throw interrupted(path, signal.reason);
  let client: RunnerClient;
  try {
    client = await RunnerClient.start(options.command ?? runnerCommand(), {
      onLog: options.onLog,
      env: options.env,
      label: path,
      signal,
      socketDir: options.socketDir,
    });
  } catch (e) {
    throw signal?.aborted ? interrupted(path, signal.reason) : e;
  }
  const onAbort = () => client.kill();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const loaded = await client.request(
      { op: "load", path, options: { ...options.load } },
      { onStatus: options.onStatus },
    ) as { capabilities: Capabilities; info: SessionInfo };
    return new RunnerSession(client, loaded, options.closeTimeoutMs);
  } catch (e) {
    if (signal?.aborted) {
      client.kill();
      await client.exited;
      throw interrupted(path, signal.reason);
    }
    await client.close({ timeoutMs: options.closeTimeoutMs });
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** A model loaded in a runner process. Created by {@link startRunnerSession}. */
export class RunnerSession implements Session {
  readonly capabilities: Capabilities;
  readonly info: SessionInfo;
  readonly #client: RunnerClient;
  readonly #closeTimeoutMs: number | undefined;

  constructor(
    client: RunnerClient,
    loaded: { capabilities: Capabilities; info: SessionInfo },
    closeTimeoutMs?: number,
  ) {
    this.#client = client;
    this.capabilities = loaded.capabilities;
    this.info = loaded.info;
    this.#closeTimeoutMs = closeTimeoutMs;
  }

  /** The runner's process id. */
  get pid(): number {
    return this.#client.pid;
  }

  /** True once the runner has exited (crashed or closed). */
  get dead(): boolean {
    return this.#client.dead;
  }

  /** Settles when the runner has exited: `crashed` is true unless {@link close} stopped it. Never rejects. */
  get exited(): Promise<RunnerExit> {
    return this.#client.exited;
  }

  generate(prompt: string, options: GenerateOptions = {}): Generation {
    return this.#stream({ op: "generate", prompt }, options);
  }

  chat(messages: ChatMessage[], options: GenerateOptions = {}): Generation {
    return this.#stream({ op: "chat", messages }, options);
  }

  async renderChat(messages: ChatMessage[]): Promise<string> {
    return await this.#client.request({ op: "renderChat", messages }) as string;
  }

  async embed(texts: string[], options: EmbedOptions = {}): Promise<number[][]> {
    const { signal, normalize } = options;
    if (signal?.aborted) throw new LodeError("INTERRUPTED", "the embedding was cancelled");
    return await this.#client.request({ op: "embed", texts, normalize }, { signal }) as number[][];
  }

  async tokenize(text: string): Promise<number[]> {
    return await this.#client.request({ op: "tokenize", text }) as number[];
  }

  async detokenize(tokens: number[]): Promise<string> {
    return await this.#client.request({ op: "detokenize", tokens }) as string;
  }

  /** Aborts running generations, frees the model and stops the runner (killing it after a timeout). */
  async close(): Promise<void> {
    await this.#client.close({ timeoutMs: this.#closeTimeoutMs });
  }

  /** Kills the runner at once (SIGKILL by default), as a crash would. */
  kill(signal: Deno.Signal = "SIGKILL"): void {
    this.#client.kill(signal);
  }

  /** A generation streamed from the runner; its signal becomes a `cancel` request. */
  #stream(
    body: { op: "generate"; prompt: string } | { op: "chat"; messages: ChatMessage[] },
    options: GenerateOptions,
  ): Generation {
    const { signal, onToolCallDelta, ...rest } = options;
    return createGeneration(
      async (emit, inner) =>
        result(
          await this.#client.request({ ...body, options: { ...rest } }, {
            onChunk: emit,
            onToolCallDelta,
            signal: inner,
          }),
        ),
      { signal },
    );
  }
}

/** A runner's generation result; JSON turns a non-finite speed into null, which is 0 here. */
function result(value: unknown): GenerateResult {
  const r = value as GenerateResult;
  if (typeof r.usage.tokensPerSecond !== "number") r.usage.tokensPerSecond = 0;
  return r;
}

function interrupted(path: string, cause: unknown): LodeError {
  return new LodeError("INTERRUPTED", "loading the model was cancelled", { details: { path }, cause });
}
