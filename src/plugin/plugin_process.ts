/**
 * One running plugin process and the protocol spoken with it (plugin_protocol.ts): started from its
 * {@link SandboxCommand}, hello both ways (plugin_hello.ts), calls with ids, progress, cancellation,
 * shutdown then exit.
 *
 * Any fault of the plugin is fatal to this process: it is killed, every running call fails with the
 * fault tagged with the plugin and the call's hook, and {@link PluginProcess.failure} holds it. Faults:
 * it exits (at start, or in the middle of a call: `PLUGIN_FAILED`, with the tail of its stderr); it says
 * no hello in time or a call gets no answer in time (`PLUGIN_TIMEOUT`); it writes a line that is not
 * JSON, not a frame, longer than the frame limit, or answers an id no call has (`PLUGIN_PROTOCOL`); its
 * hello speaks no protocol version this host speaks (`PLUGIN_PROTOCOL`). A call the plugin answers with
 * an error frame fails alone (`PLUGIN_FAILED`, or `PLUGIN_DENIED` naming the permission its sandbox
 * refused) and the process keeps running. plugin_supervisor.ts restarts and disables.
 *
 * @example
 * ```ts
 * import { PluginProcess } from "./plugin_process.ts";
 * async function resolve(command: import("./sandbox.ts").SandboxCommand) {
 *   const plugin = await PluginProcess.start({ name: "mirror", command });
 *   try {
 *     return await plugin.call("registry.resolve", { reference: "mirror:tiny", scheme: "mirror", rest: "tiny" });
 *   } finally {
 *     await plugin.shutdown();
 *   }
 * }
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { deniedError, failedError, frameTooLarge, pluginError } from "./plugin_error.ts";
import { agreeHello, hostHello } from "./plugin_hello.ts";
import {
  boundedLines,
  type Feature,
  FrameTooLarge,
  type HostFrame,
  LARGE_FRAME_BYTES,
  LogRing,
  MAX_FRAME_BYTES,
  PluginFrame,
  type PluginHello,
} from "./plugin_protocol.ts";
import type { SandboxCommand } from "./sandbox.ts";

/** How a {@link PluginProcess} is started and how long it is waited for. */
export interface ProcessOptions {
  /** The plugin's name, for errors. */
  name: string;
  command: SandboxCommand;
  /** How long the plugin has to say hello (default 10 s). */
  helloTimeoutMs?: number;
  /** How long a call may take unless the call says otherwise (default 30 s). */
  callTimeoutMs?: number;
  /** How long a cancelled call has to be answered (default 2 s). */
  cancelGraceMs?: number;
  /** How long the process has to exit after `shutdown` and `exit` before it is killed (default 2 s). */
  exitGraceMs?: number;
  /** The longest frame accepted (default {@link MAX_FRAME_BYTES}). */
  maxFrameBytes?: number;
  /** The longest frame accepted once both hellos list `large_frames` (default {@link LARGE_FRAME_BYTES}). */
  largeFrameBytes?: number;
  /** How many bytes of its stderr are kept (default 64 KiB). */
  logBytes?: number;
}

/** Options of one call. */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  onProgress?: (data: unknown) => void;
}

interface Pending {
  hook: string;
  resolve(value: unknown): void;
  reject(error: LodeError): void;
  onProgress?: (data: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
  cancelled: boolean;
}

/** A running plugin process. */
export class PluginProcess {
  readonly name: string;
  /** Its stderr, bounded. */
  readonly log: LogRing;
  /** The protocol version agreed in the hellos (0 before). */
  protocol = 0;
  /** The plugin's hello, once received. */
  hello: PluginHello | null = null;
  /** The features both hellos list (empty before). */
  features: ReadonlySet<Feature> = new Set();
  /** The fault that ended this process, when one did. */
  failure: LodeError | null = null;
  /** Resolves once the process has exited (after a fault, a shutdown or a kill). */
  readonly exited: Promise<void>;

  readonly #child: Deno.ChildProcess;
  readonly #options: Required<Omit<ProcessOptions, "command" | "name">>;
  readonly #pending = new Map<number, Pending>();
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #encoder = new TextEncoder();
  #writing: Promise<void> = Promise.resolve();
  #nextId = 1;
  #closing = false;
  #helloWaiter: { resolve(h: PluginHello): void; reject(e: LodeError): void } | null = null;

  private constructor(options: ProcessOptions, child: Deno.ChildProcess) {
    this.name = options.name;
    this.#child = child;
    this.#options = {
      helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
      callTimeoutMs: options.callTimeoutMs ?? 30_000,
      cancelGraceMs: options.cancelGraceMs ?? 2_000,
      exitGraceMs: options.exitGraceMs ?? 2_000,
      maxFrameBytes: options.maxFrameBytes ?? MAX_FRAME_BYTES,
      largeFrameBytes: options.largeFrameBytes ?? LARGE_FRAME_BYTES,
      logBytes: options.logBytes ?? 64 * 1024,
    };
    this.log = new LogRing(this.#options.logBytes);
    this.#writer = child.stdin.getWriter();
    this.exited = child.status.then(() => {});
    void this.#pumpLog(child.stderr);
    void this.#read(child.stdout);
  }

  /** Starts the plugin and exchanges hellos; a fault at start is thrown (the process is gone then). */
  static async start(options: ProcessOptions): Promise<PluginProcess> {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(options.command.program, {
        args: options.command.args,
        cwd: options.command.cwd,
        env: options.command.env,
        clearEnv: true,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      throw pluginError("PLUGIN_FAILED", options.name, "start", `could not start: ${(e as Error).message}`, {
        program: options.command.program,
      }, e);
    }
    const plugin = new PluginProcess(options, child);
    await plugin.#handshake();
    return plugin;
  }

  /** True while the process runs and has not failed or been shut down. */
  get alive(): boolean {
    return this.failure === null && !this.#closing;
  }

  async #handshake(): Promise<void> {
    const hello = new Promise<PluginHello>((resolve, reject) => this.#helloWaiter = { resolve, reject });
    this.#send(hostHello());
    const timer = setTimeout(() => {
      this.#fail(pluginError(
        "PLUGIN_TIMEOUT",
        this.name,
        "hello",
        `said no hello within ${this.#options.helloTimeoutMs} ms`,
        { timeout_ms: this.#options.helloTimeoutMs, log: this.log.tail() },
      ));
    }, this.#options.helloTimeoutMs);
    try {
      const theirs = await hello;
      const agreed = agreeHello(this.name, theirs);
      if (agreed instanceof LodeError) throw this.#fail(agreed);
      this.protocol = agreed.protocol;
      this.features = agreed.features;
      this.hello = theirs;
    } finally {
      clearTimeout(timer);
      this.#helloWaiter = null;
    }
  }

  /** Calls `hook` with `params`: its result, or the typed failure tagged with the plugin and hook. */
  call(hook: string, params: unknown, options: CallOptions = {}): Promise<unknown> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.#closing) {
      return Promise.reject(pluginError("PLUGIN_FAILED", this.name, hook, "is shutting down"));
    }
    if (options.signal?.aborted) {
      return Promise.reject(pluginError("CANCELLED", this.name, hook, "the call was cancelled"));
    }
    const id = this.#nextId++;
    const line = this.#line({ type: "call", id, hook, params });
    const limit = this.#frameLimit();
    if (line.length > limit) {
      // Refused here, the process untouched: the plugin would stop reading at its limit.
      return Promise.reject(
        frameTooLarge(this.name, hook, line.length, limit, this.features.has("large_frames")),
      );
    }
    const timeoutMs = options.timeoutMs ?? this.#options.callTimeoutMs;
    return new Promise<unknown>((resolve, reject) => {
      const pending: Pending = { hook, resolve, reject, onProgress: options.onProgress, cancelled: false };
      const onAbort = () => this.#cancel(id, pending);
      const done = () => {
        clearTimeout(pending.timer);
        options.signal?.removeEventListener("abort", onAbort);
      };
      pending.resolve = (v) => (done(), resolve(v));
      pending.reject = (e) => (done(), reject(e));
      pending.timer = setTimeout(() => {
        this.#fail(pluginError(
          "PLUGIN_TIMEOUT",
          this.name,
          hook,
          `gave no answer within ${timeoutMs} ms and was stopped`,
          { timeout_ms: timeoutMs, log: this.log.tail() },
        ));
      }, timeoutMs);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, pending);
      this.#write(line);
    });
  }

  #cancel(id: number, pending: Pending): void {
    if (!this.#pending.has(id) || pending.cancelled) return;
    pending.cancelled = true;
    this.#send({ type: "cancel", id });
    clearTimeout(pending.timer);
    pending.timer = setTimeout(() => {
      this.#fail(pluginError(
        "PLUGIN_TIMEOUT",
        this.name,
        pending.hook,
        `did not answer a cancelled call within ${this.#options.cancelGraceMs} ms and was stopped`,
        { timeout_ms: this.#options.cancelGraceMs },
      ));
    }, this.#options.cancelGraceMs);
  }

  /** Asks the plugin to stop (`shutdown`, then `exit`); kills it after the grace period. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.failure !== null || this.#closing) return await this.exited;
    try {
      await this.call("shutdown", null, { timeoutMs: this.#options.exitGraceMs });
    } catch {
      // A plugin that fails its shutdown is killed below all the same.
    }
    this.#closing = true;
    this.#send({ type: "exit" });
    await this.#writing;
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => this.kill(), this.#options.exitGraceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills the process at once (SIGKILL). */
  kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }

  #send(frame: HostFrame): void {
    this.#write(this.#line(frame));
  }

  #line(frame: HostFrame): Uint8Array {
    return this.#encoder.encode(JSON.stringify(frame) + "\n");
  }

  #write(line: Uint8Array): void {
    this.#writing = this.#writing.then(() => this.#writer.write(line)).catch(() => {
      // A plugin that closed its stdin is one that died: #read reports it.
    });
  }

  /** Fails the process with `error` (once): kills it, fails every running call. Returns the failure. */
  #fail(error: LodeError): LodeError {
    if (this.failure !== null) return this.failure;
    this.failure = error;
    this.kill();
    this.#helloWaiter?.reject(error);
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      const hook = pending.hook;
      pending.reject(
        error.details.hook === hook ? error : pluginError(
          error.code,
          this.name,
          hook,
          error.message.replace(
            /^plugin \S+ \([^)]*\): /,
            "",
          ),
          error.details,
        ),
      );
    }
    return error;
  }

  async #pumpLog(stderr: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const chunk of stderr) this.log.write(chunk);
    } catch {
      // The process is gone.
    }
  }

  async #read(stdout: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const line of boundedLines(stdout, () => this.#frameLimit())) {
        if (this.failure !== null) break;
        if (line.trim() === "") continue;
        this.#receive(line);
      }
    } catch (e) {
      if (e instanceof FrameTooLarge) {
        this.#fail(this.#protocolError(`wrote a frame longer than ${e.limit} bytes`, { limit: e.limit }));
      }
      await stdout.cancel().catch(() => {});
    }
    const status = await this.#child.status;
    if (this.failure !== null || this.#closing) return;
    const how = status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
    const when = this.hello === null ? "before its hello" : "while calls were running";
    this.#fail(pluginError(
      "PLUGIN_FAILED",
      this.name,
      this.#pending.values().next().value?.hook ?? "start",
      `${how} ${this.#pending.size > 0 || this.hello === null ? when : ""}`.trimEnd() +
        (this.log.tail(5) ? `; its log ends: ${this.log.tail(5)}` : ""),
      { exit_code: status.code, signal: status.signal, log: this.log.tail() },
    ));
  }

  /** The longest frame accepted now: larger once both hellos list `large_frames`. */
  #frameLimit(): number {
    return this.features.has("large_frames") ? this.#options.largeFrameBytes : this.#options.maxFrameBytes;
  }

  #protocolError(message: string, details: Record<string, unknown> = {}): LodeError {
    const hook = this.hello === null ? "hello" : this.#pending.values().next().value?.hook ?? "protocol";
    return pluginError("PLUGIN_PROTOCOL", this.name, hook, message, details);
  }

  #receive(line: string): void {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      this.#fail(this.#protocolError(`wrote a line that is not JSON: ${JSON.stringify(line.slice(0, 80))}`));
      return;
    }
    const parsed = PluginFrame.safeParse(json);
    if (!parsed.success) {
      this.#fail(this.#protocolError(`wrote a line that is not a frame: ${line.slice(0, 120)}`));
      return;
    }
    const frame = parsed.data;
    if (frame.type === "hello") {
      if (this.#helloWaiter === null) this.#fail(this.#protocolError("said hello twice"));
      else this.#helloWaiter.resolve(frame);
      return;
    }
    if (this.hello === null && this.#helloWaiter !== null) {
      this.#fail(this.#protocolError(`sent a ${frame.type} frame before its hello`));
      return;
    }
    const pending = this.#pending.get(frame.id);
    if (pending === undefined) {
      this.#fail(this.#protocolError(`answered id ${frame.id}, which no call has`, { id: frame.id }));
      return;
    }
    if (frame.type === "progress") {
      if (!pending.cancelled) pending.onProgress?.(frame.data);
      return;
    }
    this.#pending.delete(frame.id);
    if (pending.cancelled) {
      pending.reject(pluginError("CANCELLED", this.name, pending.hook, "the call was cancelled"));
    } else if (frame.type === "result") {
      pending.resolve(frame.value);
    } else if (frame.error.kind === "denied") {
      pending.reject(deniedError(this.name, pending.hook, frame.error));
    } else if (frame.error.kind === "cancelled") {
      pending.reject(pluginError("CANCELLED", this.name, pending.hook, frame.error.message));
    } else {
      pending.reject(failedError(this.name, pending.hook, frame.error));
    }
  }
}
