/**
 * A {@link Session} whose model runs in a runner process (`lode __runner`,
 * see runner_main.ts): request handling uses the same Session API whether a
 * model runs in-process or out of it. The runner is a backend plugin built
 * into lode: its session is the one the plugin backend adapter makes of its
 * hooks (src/inference/plugin_backend.ts, runner_hooks.ts). Generations
 * stream their chunks from the runner, several at once; an abort signal (or
 * leaving the loop) sends the runner a `cancel`, and the generation ends
 * with `stopReason: "abort"` as in-process.
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
  Generation,
  Session,
  SessionFeatures,
  SessionInfo,
  StatusEvent,
} from "../../inference/backend.ts";
import { pluginBackend } from "../../inference/plugin_backend.ts";
import { RunnerClient, type RunnerExit, type RunnerSpawnOptions } from "./runner_client.ts";
import { type RunnerCommand, runnerCommand } from "./runner_command.ts";
import { runnerHooks } from "./runner_hooks.ts";
import type { RunnerLoadOptions } from "./runner_protocol.ts";

/** Options of {@link startRunnerSession}. */
export interface StartRunnerOptions extends Pick<RunnerSpawnOptions, "onLog" | "env"> {
  /** How the model is loaded (context size, threads, GPU, memory check, CPU affinity, sequences). */
  load?: RunnerLoadOptions;
  /** The load's status events: `loading_model` mmap / kv_cache as the runner reports them, then `capabilities`. */
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
    const backend = pluginBackend(runnerHooks(client), { plugin: "runner" });
    const session = await backend.load(path, { ...options.load, onStatus: options.onStatus });
    return new RunnerSession(client, session, options.closeTimeoutMs);
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
  readonly #client: RunnerClient;
  readonly #session: Session;
  readonly #closeTimeoutMs: number | undefined;

  /** `session`: the runner's session as the plugin backend adapter gives it. */
  constructor(client: RunnerClient, session: Session, closeTimeoutMs?: number) {
    this.#client = client;
    this.#session = session;
    this.#closeTimeoutMs = closeTimeoutMs;
  }

  get capabilities(): Capabilities {
    return this.#session.capabilities;
  }

  get info(): SessionInfo {
    return this.#session.info;
  }

  get features(): SessionFeatures | undefined {
    return this.#session.features;
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
    return this.#session.generate(prompt, options);
  }

  chat(messages: ChatMessage[], options: GenerateOptions = {}): Generation {
    return this.#session.chat(messages, options);
  }

  renderChat(messages: ChatMessage[]): Promise<string> {
    return this.#session.renderChat(messages);
  }

  embed(texts: string[], options: EmbedOptions = {}): Promise<number[][]> {
    return this.#session.embed(texts, options);
  }

  tokenize(text: string): Promise<number[]> {
    return this.#session.tokenize(text);
  }

  detokenize(tokens: number[]): Promise<string> {
    return this.#session.detokenize(tokens);
  }

  /** Aborts running generations, frees the model and stops the runner (killing it after a timeout). */
  async close(): Promise<void> {
    void this.#session.close(); // cancels the running calls; `shutdown` below frees the model
    await this.#client.close({ timeoutMs: this.#closeTimeoutMs });
  }

  /** Kills the runner at once (SIGKILL by default), as a crash would. */
  kill(signal: Deno.Signal = "SIGKILL"): void {
    this.#client.kill(signal);
  }
}

function interrupted(path: string, cause: unknown): LodeError {
  return new LodeError("INTERRUPTED", "loading the model was cancelled", { details: { path }, cause });
}
