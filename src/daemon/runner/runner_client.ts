/**
 * The daemon's end of one runner process: starts it, talks to it over a
 * private Unix socket (runner_protocol.ts: requests out, replies routed to
 * the waiting requests, chunks and status events to their callbacks), keeps
 * the tail of its stdout/stderr (logs only), and notices its death. When the
 * runner dies without having been asked to close (it exited, was killed by
 * a signal, or dropped the connection) every request still waiting rejects
 * with `LodeError("RUNNER_CRASHED")`, and so does every later one.
 *
 * Why a socket and not the runner's stdin/stdout: Deno's wake-up for a read
 * of a child's stdout costs several times one for a Unix socket
 * (docs/benchmarks.md), and was most of the cost of streaming a token
 * through a runner. The socket sits in a fresh `0700`
 * directory (only this user can connect), is accepted once and removed at
 * once; the runner gets its path as `--socket PATH`. When the daemon dies
 * (even by SIGKILL) the kernel closes the connection and the runner exits.
 *
 * @example
 * ```ts
 * import { RunnerClient } from "./runner_client.ts";
 * import { runnerCommand } from "./runner_command.ts";
 * const client = await RunnerClient.start(runnerCommand());
 * const loaded = await client.request({ op: "load", path: "model.gguf", options: {} });
 * await client.close();
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { StatusEvent } from "../../events/status_event.ts";
import type { ToolCallDelta } from "../../inference/backend.ts";
import { NdjsonConnection } from "../wire/ndjson_connection.ts";
import type { RunnerCommand } from "./runner_command.ts";
import {
  decodeRunnerReply,
  fromWireError,
  RUNNER_MAX_LINE_BYTES,
  runnerLine,
  type RunnerRequest,
} from "./runner_protocol.ts";
import { listenUnixSocket, type UnixSocketListener } from "../wire/socket_path.ts";

/** Lines of the runner's output kept to explain a crash. */
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

/** Options of {@link RunnerClient.start}. */
export interface RunnerSpawnOptions {
  /** Each line the runner writes to stdout or stderr. Default: kept only as a tail. */
  onLog?: (line: string) => void;
  /** Extra environment variables of the runner. */
  env?: Record<string, string>;
  /** Names the runner in error messages (the model, its path). */
  label?: string;
  /** Aborting while the runner starts kills it; the start then rejects with `RUNNER_CRASHED`. */
  signal?: AbortSignal;
  /** Where the socket's private directory is made (default: the system's temporary directory). */
  socketDir?: string;
  /** How long the runner may take to connect (default 60 s). */
  connectTimeoutMs?: number;
}

/** Callbacks of one request. */
export interface RequestHandlers {
  /** Each chunk of a `chunks` reply, in order (generations). */
  onChunk?: (text: string) => void;
  /** A `toolCall` reply: a piece of a tool call (chat generations). */
  onToolCallDelta?: (delta: ToolCallDelta) => void;
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
  readonly #log: ProcessLog;
  readonly #label: string;
  #nextId = 1;
  #closing = false;
  #gone: LodeError | null = null;

  private constructor(
    child: Deno.ChildProcess,
    conn: Deno.Conn,
    log: ProcessLog,
    options: RunnerSpawnOptions,
  ) {
    this.#child = child;
    this.pid = child.pid;
    this.#label = options.label ?? `runner ${child.pid}`;
    this.#log = log;
    this.#conn = new NdjsonConnection(conn, { maxLineBytes: RUNNER_MAX_LINE_BYTES });
    this.exited = Promise.all([child.status, this.#readReplies(), log.done]).then(([status]) =>
      this.#died(status)
    );
  }

  /**
   * Starts a runner and waits for it to connect. Rejects with `RUNNER_CRASHED` when the executable cannot
   * be started, or the runner exits (or `signal` aborts, or the timeout passes) before it connected; with
   * `USAGE` when the socket's path would be too long (a long `socketDir` / `TMPDIR`).
   */
  static async start(command: RunnerCommand, options: RunnerSpawnOptions = {}): Promise<RunnerClient> {
    const failed = (why: string, details: Record<string, unknown> = {}, cause?: unknown) =>
      new LodeError("RUNNER_CRASHED", `the runner process (${command.command}) ${why}`, {
        details: { command: command.command, args: command.args, ...details },
        cause,
      });
    const dir = await Deno.makeTempDir({ dir: options.socketDir, prefix: "lode-runner-" }); // mode 0700
    const path = `${dir}/runner.sock`;
    const log = new ProcessLog(options.onLog);
    let socket: UnixSocketListener | undefined;
    let child: Deno.ChildProcess | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => {
      try {
        child?.kill("SIGKILL");
      } catch { /* already gone */ }
    };
    options.signal?.addEventListener("abort", stop, { once: true });
    try {
      socket = await listenUnixSocket(path); // a path too long for a socket is a USAGE error naming it
      try {
        child = new Deno.Command(command.command, {
          args: [...command.args, "--socket", path],
          env: options.env,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
      } catch (e) {
        throw failed(`could not be started: ${e}`, {}, e);
      }
      log.follow(child.stdout);
      log.follow(child.stderr);
      if (options.signal?.aborted) stop();
      const exitedFirst = child.status.then(async (status) => {
        await log.done;
        throw failed(
          status.signal
            ? `was killed by ${status.signal} while starting`
            : `exited with code ${status.code} while starting`,
          { code: status.code, signal: status.signal, log: log.tail() },
        );
      });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          stop();
          reject(failed("did not connect in time", { log: log.tail() }));
        }, options.connectTimeoutMs ?? 60_000);
      });
      const conn = await Promise.race([socket.listener.accept(), exitedFirst, timeout]);
      exitedFirst.catch(() => {});
      return new RunnerClient(child, conn, log, options);
    } catch (e) {
      stop();
      await child?.status.catch(() => {});
      throw e;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", stop);
      await socket?.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
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
    this.#conn.enqueue(runnerLine(message));
  }

  async #readReplies(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const item of this.#conn.lines()) {
      if (item.type !== "line") continue;
      const text = decoder.decode(item.bytes);
      const reply = decodeRunnerReply(text);
      if (reply === null) {
        this.#log.line(`(not a reply) ${text.slice(0, 200)}`);
        continue;
      }
      const pending = this.#pending.get(reply.id);
      if (pending === undefined) continue;
      switch (reply.type) {
        case "chunks":
          for (const text of reply.texts) pending.onChunk?.(text);
          break;
        case "toolCall":
          try {
            pending.onToolCallDelta?.(reply.delta);
          } catch { /* an observer's failure is not the request's */ }
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

  #died(status: Deno.CommandStatus): RunnerExit {
    const crashed = !this.#closing;
    const how = status.signal !== null ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
    const error = crashed
      ? new LodeError("RUNNER_CRASHED", `the runner process of ${this.#label} ${how}`, {
        details: { pid: this.pid, code: status.code, signal: status.signal, log: this.#log.tail() },
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

/** The runner's stdout and stderr, line by line: passed to `onLog`, the last lines kept. */
class ProcessLog {
  readonly #lines: string[] = [];
  readonly #onLog: (line: string) => void;
  readonly #streams: Promise<void>[] = [];

  constructor(onLog: ((line: string) => void) | undefined) {
    this.#onLog = onLog ?? (() => {});
  }

  /** Settles when every followed stream has ended. */
  get done(): Promise<void> {
    return Promise.all(this.#streams).then(() => {});
  }

  follow(stream: ReadableStream<Uint8Array>): void {
    this.#streams.push((async () => {
      let partial = "";
      try {
        for await (const text of stream.pipeThrough(new TextDecoderStream())) {
          const lines = (partial + text).split("\n");
          partial = lines.pop()!;
          for (const line of lines) this.line(line);
        }
      } catch { /* the pipe broke: the process is gone */ }
      if (partial !== "") this.line(partial);
    })());
  }

  line(line: string): void {
    if (line.trim() === "") return;
    this.#lines.push(line);
    if (this.#lines.length > STDERR_TAIL) this.#lines.shift();
    try {
      this.#onLog(line);
    } catch { /* a logger's failure changes nothing */ }
  }

  tail(): string[] {
    return [...this.#lines];
  }
}
