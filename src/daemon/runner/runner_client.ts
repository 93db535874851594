/**
 * The daemon's end of one runner process: starts it, speaks the plugin protocol's backend part with it
 * over a private Unix socket (runner_protocol.ts: hello both ways, then calls with ids, their progress
 * routed to their callbacks, `cancel`, `shutdown` then `exit`), keeps the tail of its stdout/stderr (logs
 * only), and notices its death. When the runner dies without having been asked to close (it exited, was
 * killed by a signal, or dropped the connection) every call still waiting rejects with
 * `LodeError("RUNNER_CRASHED")`, and so does every later one.
 *
 * Why a socket and not the runner's stdin/stdout, as other plugins have: Deno's wake-up for a read of a
 * child's stdout costs several times one for a Unix socket (docs/benchmarks.md), and was most of the cost
 * of streaming a token through a runner. The socket sits in a fresh `0700` directory (only this user can
 * connect), is accepted once and removed at once; the runner gets its path as `--socket PATH`. When the
 * daemon dies (even by SIGKILL) the kernel closes the connection and the runner exits.
 *
 * @example
 * ```ts
 * import { RunnerClient } from "./runner_client.ts";
 * import { runnerCommand } from "./runner_command.ts";
 * const client = await RunnerClient.start(runnerCommand());
 * const loaded = await client.call("backend.load", { path: "model.gguf", options: {} });
 * await client.close();
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import { API_VERSION, PROTOCOL_VERSIONS } from "../../plugin/api.ts";
import { pluginError } from "../../plugin/plugin_error.ts";
import {
  commonFeatures,
  commonVersion,
  type Feature,
  type HostFrame,
  type PluginHello,
} from "../../plugin/plugin_protocol.ts";
import { NdjsonConnection } from "../wire/ndjson_connection.ts";
import { listenUnixSocket, type UnixSocketListener } from "../wire/socket_path.ts";
import type { RunnerCommand } from "./runner_command.ts";
import { ProcessLog } from "./runner_log.ts";
import {
  decodeRunnerFrame,
  frameLine,
  fromWireError,
  RUNNER_FEATURES,
  RUNNER_MAX_LINE_BYTES,
} from "./runner_protocol.ts";

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
  /** How long the runner may take to connect, and then to say hello (default 60 s each). */
  connectTimeoutMs?: number;
}

/** Callbacks of one call. */
export interface CallHandlers {
  /** Each progress frame's `data` (a generation's chunks and tool-call pieces, a load's status events). */
  onProgress?: (data: unknown) => void;
  /** Aborting sends the runner a `cancel` for this call; the call is still answered. */
  signal?: AbortSignal;
}

interface Pending extends CallHandlers {
  resolve: (value: unknown) => void;
  reject: (error: LodeError) => void;
}

/** A running runner process and the calls it is answering. */
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
  #hello: PluginHello | null = null;
  #features: Feature[] = [];
  #helloWaiter: PromiseWithResolvers<PluginHello> | null = Promise.withResolvers<PluginHello>();

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
    this.#helloWaiter!.promise.catch(() => {});
    this.exited = Promise.all([child.status, this.#readFrames(), log.done]).then(([status]) =>
      this.#died(status)
    );
  }

  /**
   * Starts a runner and waits for it to connect and say hello. Rejects with `RUNNER_CRASHED` when the
   * executable cannot be started, or the runner exits (or `signal` aborts, or a timeout passes) before it
   * connected and said hello; with `PLUGIN_PROTOCOL` when its hello does not match this lode's; with
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
      clearTimeout(timer);
      const client = new RunnerClient(child, conn, log, options);
      const noHello = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          stop();
          reject(failed("said no hello in time", { log: log.tail() }));
        }, options.connectTimeoutMs ?? 60_000);
      });
      await Promise.race([client.#handshake(), noHello]);
      return client;
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

  /**
   * Both hellos: the runner must speak a protocol version and the contract version of this lode and
   * offer every feature of {@link RUNNER_FEATURES} (it is the same executable); else `PLUGIN_PROTOCOL`.
   * A runner that dies first rejects with `RUNNER_CRASHED`.
   */
  async #handshake(): Promise<void> {
    this.#send({
      type: "hello",
      protocol: [...PROTOCOL_VERSIONS],
      api_version: API_VERSION,
      features: [...RUNNER_FEATURES],
      host: "lode",
    });
    const hello = await this.#helloWaiter!.promise;
    this.#helloWaiter = null;
    const refuse = (message: string, details: Record<string, unknown>) => {
      this.kill();
      return pluginError("PLUGIN_PROTOCOL", "runner", "hello", message, details);
    };
    if (commonVersion(PROTOCOL_VERSIONS, hello.protocol) === null || hello.api_version > API_VERSION) {
      throw refuse(
        `speaks protocol ${hello.protocol.join(", ")} (API ${hello.api_version}); this lode speaks ${
          PROTOCOL_VERSIONS.join(", ")
        } (API ${API_VERSION})`,
        { theirs: hello.protocol, ours: PROTOCOL_VERSIONS },
      );
    }
    const features = commonFeatures(RUNNER_FEATURES, hello.features);
    const missing = RUNNER_FEATURES.filter((f) => !features.includes(f));
    if (missing.length > 0) {
      throw refuse(`lacks the features ${missing.join(", ")}`, { missing });
    }
    this.#hello = hello;
    this.#features = features;
  }

  /** The runner's hello. */
  get hello(): PluginHello {
    return this.#hello!;
  }

  /** The features both hellos listed. */
  get features(): readonly Feature[] {
    return this.#features;
  }

  /** True once the runner has exited (or is being closed). */
  get dead(): boolean {
    return this.#gone !== null;
  }

  /**
   * Calls `hook` with `params` and resolves with its `result` value; rejects with the runner's error
   * (its code, message, hint and details), or with `RUNNER_CRASHED` when the runner dies first.
   */
  call(hook: string, params: unknown, handlers: CallHandlers = {}): Promise<unknown> {
    if (this.#gone !== null) return Promise.reject(this.#gone);
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const { signal } = handlers;
    const onAbort = () => this.#send({ type: "cancel", id });
    this.#pending.set(id, { ...handlers, resolve, reject });
    this.#send({ type: "call", id, hook, params });
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    return signal === undefined
      ? promise
      : promise.finally(() => signal.removeEventListener("abort", onAbort));
  }

  /**
   * Asks the runner to free its model (`shutdown`) and to exit (`exit`); kills it (SIGKILL) when it has
   * not exited within `timeoutMs` (default 5000). Calls still waiting reject with `INFERENCE_FAILED`.
   * Idempotent.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<RunnerExit> {
    if (!this.#closing && this.#gone === null) {
      this.#closing = true;
      void this.call("shutdown", null).catch(() => {}).finally(() => this.#send({ type: "exit" }));
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

  #send(frame: HostFrame): void {
    this.#conn.enqueue(frameLine(frame));
  }

  async #readFrames(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const item of this.#conn.lines()) {
      if (item.type !== "line") continue;
      const text = decoder.decode(item.bytes);
      const frame = decodeRunnerFrame(text);
      if (frame === null) {
        this.#log.line(`(not a frame) ${text.slice(0, 200)}`);
        continue;
      }
      if (frame.type === "hello") {
        if (this.#helloWaiter !== null) this.#helloWaiter.resolve(frame);
        else this.#log.line("(a second hello, ignored)");
        continue;
      }
      const pending = this.#pending.get(frame.id);
      if (pending === undefined) continue;
      switch (frame.type) {
        case "progress":
          try {
            pending.onProgress?.(frame.data);
          } catch { /* an observer's failure is not the call's */ }
          break;
        case "result":
          this.#pending.delete(frame.id);
          pending.resolve(frame.value);
          break;
        case "error":
          this.#pending.delete(frame.id);
          pending.reject(fromWireError(frame.error));
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
    this.#helloWaiter?.reject(error);
    this.#conn.close();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
    return { pid: this.pid, code: status.code, signal: status.signal, crashed, error };
  }
}
