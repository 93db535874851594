/**
 * The daemon's end of one runner process: spawns it, sends requests
 * (runner_protocol.ts) over its stdin, routes its stdout replies to the
 * waiting requests (chunks and status events to their callbacks), keeps the
 * tail of its stderr, and notices its death. When the runner dies without
 * having been asked to close (it exited, was killed by a signal, or broke
 * its pipe) every request still waiting rejects with
 * `LodeError("RUNNER_CRASHED")`, and so does every later one.
 *
 * @example
 * ```ts
 * import { RunnerClient } from "./runner_client.ts";
 * import { runnerCommand } from "./runner_command.ts";
 * const client = RunnerClient.spawn(runnerCommand());
 * const loaded = await client.request({ op: "load", path: "model.gguf", options: {} });
 * await client.close();
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import type { StatusEvent } from "../events/status_event.ts";
import { NdjsonConnection } from "./ndjson_connection.ts";
import { childChannel } from "./pipe_channel.ts";
import type { RunnerCommand } from "./runner_command.ts";
import {
  decodeRunnerReply,
  encodeRunnerMessage,
  fromWireError,
  type RunnerRequest,
} from "./runner_protocol.ts";

/** Lines of the runner's stderr kept to explain a crash. */
const STDERR_TAIL = 20;

/** How a runner process ended. */
export interface RunnerExit {
  pid: number;
  /** Exit code (128 + n after signal n). */
  code: number;
  /** The signal that killed it, if one did. */
  signal: Deno.Signal | null;
  /** True unless it ended because it was asked to ({@link RunnerClient.close}). */
  crashed: boolean;
  /** The error the requests it left unanswered rejected with. */
  error: LodeError;
}

/** Options of {@link RunnerClient.spawn}. */
export interface RunnerSpawnOptions {
  /** Each line the runner writes to stderr (and stray non-protocol stdout lines). Default: kept only as a tail. */
  onLog?: (line: string) => void;
  /** Extra environment variables of the runner. */
  env?: Record<string, string>;
  /** Names the runner in error messages (the model, its path). */
  label?: string;
}

/** Callbacks of one request. */
export interface RequestHandlers {
  /** A `chunk` reply (generations). */
  onChunk?: (text: string) => void;
  /** A `status` reply (a load's phases). */
  onStatus?: (event: StatusEvent) => void;
  /** Aborting sends the runner a `cancel` for this request. */
  signal?: AbortSignal;
}

interface Pending extends RequestHandlers {
  resolve: (value: unknown) => void;
  reject: (error: LodeError) => void;
}

type Body = RunnerRequest extends infer R ? R extends unknown ? Omit<R, "id"> : never : never;

/** A running runner process and the requests it is answering. */
export class RunnerClient {
  /** The runner's process id. */
  readonly pid: number;
  /** Settles once the process has exited and its output is read to the end. Never rejects. */
  readonly exited: Promise<RunnerExit>;
  readonly #child: Deno.ChildProcess;
  readonly #conn: NdjsonConnection;
  readonly #pending = new Map<number, Pending>();
  readonly #stderr: string[] = [];
  readonly #label: string;
  readonly #onLog: (line: string) => void;
  #nextId = 1;
  #closing = false;
  #gone: LodeError | null = null;

  private constructor(child: Deno.ChildProcess, options: RunnerSpawnOptions) {
    this.#child = child;
    this.pid = child.pid;
    this.#label = options.label ?? `runner ${child.pid}`;
    this.#onLog = options.onLog ?? (() => {});
    this.#conn = new NdjsonConnection(childChannel(child), { maxLineBytes: 256 * 1024 * 1024 });
    const stdoutDone = this.#readReplies();
    const stderrDone = this.#readStderr(child.stderr);
    this.exited = Promise.all([child.status, stdoutDone, stderrDone]).then(([status]) => this.#died(status));
  }

  /**
   * Starts a runner. Throws `RUNNER_CRASHED` when the executable cannot be started.
   *
   * @example
   * ```ts
   * const client = RunnerClient.spawn(runnerCommand(), { onLog: (l) => console.error(`[runner] ${l}`) });
   * ```
   */
  static spawn(command: RunnerCommand, options: RunnerSpawnOptions = {}): RunnerClient {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(command.command, {
        args: command.args,
        env: options.env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      throw new LodeError("RUNNER_CRASHED", `could not start a runner process (${command.command}): ${e}`, {
        details: { command: command.command, args: command.args },
        cause: e,
      });
    }
    return new RunnerClient(child, options);
  }

  /** True once the runner has exited (or is being closed). */
  get dead(): boolean {
    return this.#gone !== null;
  }

  /**
   * Sends a request and resolves with its `result` value; rejects with the runner's error, or with
   * `RUNNER_CRASHED` when the runner dies first.
   */
  request(body: Body, handlers: RequestHandlers = {}): Promise<unknown> {
    if (this.#gone !== null) return Promise.reject(this.#gone);
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const { signal } = handlers;
    const onAbort = () => this.#send({ id: this.#nextId++, op: "cancel", target: id });
    this.#pending.set(id, { ...handlers, resolve, reject });
    this.#send({ ...body, id } as RunnerRequest);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    return signal === undefined
      ? promise
      : promise.finally(() => signal.removeEventListener("abort", onAbort));
  }

  /**
   * Asks the runner to free its model and exit; kills it (SIGKILL) when it has not exited within
   * `timeoutMs` (default 5000). Requests still waiting reject with `INFERENCE_FAILED`. Idempotent.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<RunnerExit> {
    if (!this.#closing && this.#gone === null) {
      this.#closing = true;
      this.#send({ id: this.#nextId++, op: "close" });
      const timer = setTimeout(() => this.kill(), options.timeoutMs ?? 5000);
      this.exited.finally(() => clearTimeout(timer));
    }
    return await this.exited;
  }

  /** Sends the runner a signal now (default SIGKILL); it then dies as {@link exited} reports. */
  kill(signal: Deno.Signal = "SIGKILL"): void {
    try {
      this.#child.kill(signal);
    } catch { /* already exited */ }
  }

  #send(message: RunnerRequest): void {
    this.#conn.enqueue(encodeRunnerMessage(message));
  }

  async #readReplies(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const item of this.#conn.lines()) {
      if (item.type !== "line") continue;
      const text = decoder.decode(item.bytes);
      const reply = decodeRunnerReply(text);
      if (reply === null) {
        this.#log(text);
        continue;
      }
      const pending = this.#pending.get(reply.id);
      if (pending === undefined) continue;
      switch (reply.type) {
        case "chunk":
          pending.onChunk?.(reply.text);
          break;
        case "status":
          try {
            pending.onStatus?.(reply.event);
          } catch { /* an observer's failure is not the request's */ }
          break;
        case "result":
          this.#pending.delete(reply.id);
          pending.resolve(reply.value);
          break;
        case "error":
          this.#pending.delete(reply.id);
          pending.reject(fromWireError(reply.error));
          break;
      }
    }
    this.#conn.close();
  }

  async #readStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    let partial = "";
    try {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        const lines = (partial + text).split("\n");
        partial = lines.pop()!;
        for (const line of lines) this.#log(line);
      }
    } catch { /* the pipe broke: the process is gone */ }
    if (partial !== "") this.#log(partial);
  }

  #log(line: string): void {
    if (line.trim() === "") return;
    this.#stderr.push(line);
    if (this.#stderr.length > STDERR_TAIL) this.#stderr.shift();
    try {
      this.#onLog(line);
    } catch { /* a logger's failure changes nothing */ }
  }

  #died(status: Deno.CommandStatus): RunnerExit {
    const crashed = !this.#closing;
    const how = status.signal !== null ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
    const error = crashed
      ? new LodeError("RUNNER_CRASHED", `the runner process of ${this.#label} ${how}`, {
        details: { pid: this.pid, code: status.code, signal: status.signal, stderr: [...this.#stderr] },
      })
      : new LodeError("INFERENCE_FAILED", `the runner process of ${this.#label} was closed`, {
        details: { pid: this.pid },
      });
    this.#gone = error;
    this.#conn.close();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
    return { pid: this.pid, code: status.code, signal: status.signal, crashed, error };
  }
}
