/**
 * The inference socket: NDJSON requests in, frames out (docs/protocol.md).
 * Each accepted connection gets an {@link NdjsonConnection}; every line is
 * decoded ({@link decodeRequest}) and dispatched at once, so many requests
 * run multiplexed on one connection, their frames told apart by `id`.
 *
 * - Malformed input (not JSON, a line over the limit, an unknown op, a
 *   missing field) gets an `error` frame; the connection stays up.
 * - An id already in flight on the connection is refused (`BAD_REQUEST`,
 *   `details.field: "id"`).
 * - `health` and `cancel` are answered here; the job ops by the daemon's jobs
 *   (job_requests.ts; a drain does not wait for them); the model ops by the inference
 *   service (inference_service.ts: generate, chat and embed through the
 *   admission queue, `QUEUE_FULL` at once beyond it), in frames
 *   (request_handler.ts: `queued` frames while they wait).
 * - `cancel` removes a waiting target from the queue or stops a running one;
 *   the target ends with `CANCELLED`.
 * - A connection that closes cancels what it has in flight. End of input
 *   alone (a client that half-closed after its last request) does not: its
 *   requests are answered, then the connection is closed. A client that went
 *   away entirely is noticed at the first frame written to it; at end of
 *   input its waiting requests are told their position again to find out.
 * - {@link InferenceServer.drain}: new requests get `DRAINING` (`health` and
 *   `cancel` still answer), in-flight ones may finish within the grace
 *   period, then they are stopped with `DRAINING`.
 *
 * Every finished request of a model op is reported to `onActivity` (the
 * activity log).
 * @module
 */
import { LodeError, toLodeError } from "../../errors.ts";
import { VERSION } from "../../version.ts";
import { type ActivityRecord, activityRecord } from "./activity_log.ts";
import type { AdmissionQueue } from "./admission_queue.ts";
import { drainingError, InFlightSet } from "./in_flight.ts";
import { frameLine, frameLines } from "../wire/frame_lines.ts";
import { NdjsonConnection } from "../wire/ndjson_connection.ts";
import {
  DEFAULT_MAX_FRAME_BYTES,
  type FrameOf,
  PROTOCOL_VERSION,
  type Request,
  type ResponseFrame,
} from "../wire/protocol.ts";
import { decodeRequest, errorFrame, frameTooLargeFrame, idFromPrefix } from "../wire/decode_request.ts";
import { InferenceService } from "./inference_service.ts";
import { answerAtOnce, type Handled, handleRequest, type ModelOp } from "./request_handler.ts";
import { handleJobRequest, isJobRequest, type JobOp } from "./job_requests.ts";
import type { DaemonJobs } from "../jobs/daemon_jobs.ts";
import type { RequestOf } from "../wire/protocol.ts";
import type { Router } from "../router/router.ts";

/**
 * Options of {@link InferenceServer}.
 *
 * @example
 * ```ts
 * import type { InferenceServerOptions } from "./inference_server.ts";
 * const options = (router: InferenceServerOptions["router"], queue: InferenceServerOptions["queue"]): InferenceServerOptions =>
 *   ({ router, queue, onActivity: (r) => console.log(r.request_id) });
 * ```
 */
export interface InferenceServerOptions {
  router: Router;
  queue: AdmissionQueue;
  /** The daemon's lifecycle status, for `health` (default: `ready`, `draining` once draining). */
  status?: () => string;
  /** Names of the loaded models, for `health` (left out when not given). */
  loaded?: () => string[];
  /** The store's directory, for `health`. */
  store?: string;
  /** Told about every finished request of a model op. Must not throw or block. */
  onActivity?: (record: ActivityRecord) => void;
  /** Longest request line. Default {@link DEFAULT_MAX_FRAME_BYTES}. */
  maxLineBytes?: number;
  /** Bytes queued to one client before a token stream waits for it to read. Default 256 KiB. */
  maxPendingBytes?: number;
  /** The daemon's jobs, for the job ops (without them a job op is `BAD_REQUEST`). */
  jobs?: DaemonJobs;
}

interface Client {
  readonly number: number;
  readonly conn: NdjsonConnection;
  /** The controllers of its requests in flight, by id. */
  readonly inFlight: Map<string, AbortController>;
  eof: boolean;
}

const CLIENT_GONE = () => new LodeError("CANCELLED", "the client closed its connection");

/**
 * The inference socket server.
 *
 * @example
 * ```ts
 * import { InferenceServer } from "./inference_server.ts";
 * const serve = (o: ConstructorParameters<typeof InferenceServer>[0], l: Deno.Listener) => new InferenceServer(o).serve(l);
 * ```
 */
export class InferenceServer {
  readonly #service: InferenceService;
  readonly #queue: AdmissionQueue;
  readonly #status: () => string;
  readonly #loaded: (() => string[]) | undefined;
  readonly #store: string | undefined;
  readonly #onActivity: ((record: ActivityRecord) => void) | undefined;
  readonly #maxLine: number;
  readonly #maxPending: number;
  readonly #jobs: DaemonJobs | undefined;
  readonly #clients = new Set<Client>();
  readonly #started = performance.now();
  readonly #inFlight = new InFlightSet<AbortController>();
  #nextClient = 1;
  #draining = false;
  #closed = false;

  constructor(options: InferenceServerOptions) {
    this.#service = new InferenceService({ router: options.router, queue: options.queue });
    this.#queue = options.queue;
    this.#status = options.status ?? (() => this.#draining ? "draining" : "ready");
    this.#loaded = options.loaded;
    this.#store = options.store;
    this.#onActivity = options.onActivity;
    this.#maxLine = options.maxLineBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#maxPending = options.maxPendingBytes ?? 256 * 1024;
    this.#jobs = options.jobs;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#clients.size;
  }

  /** Requests of model ops being handled now (waiting or running). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** True once {@link drain} was called. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Accepts connections from `listener` until it is closed. */
  async serve(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) this.attach(conn);
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e; // the listener was closed
    }
  }

  /** Serves one connection (returns at once). */
  attach(raw: Deno.Conn): void {
    const conn = new NdjsonConnection(raw, { maxLineBytes: this.#maxLine });
    if (this.#closed) {
      conn.close();
      return;
    }
    const client: Client = { number: this.#nextClient++, conn, inFlight: new Map(), eof: false };
    this.#clients.add(client);
    conn.whenClosed.then(() => {
      this.#clients.delete(client);
      for (const controller of client.inFlight.values()) controller.abort(CLIENT_GONE());
    });
    void this.#read(client);
  }

  /**
   * Refuses new requests with `DRAINING` from now on and waits for those in
   * flight; after `graceMs` the rest are stopped (their clients get
   * `DRAINING`). Resolves with how many had to be stopped.
   */
  async drain(options: { graceMs: number }): Promise<number> {
    this.#draining = true;
    void this.#queue.drain();
    return await this.#inFlight.drain(options.graceMs, (reason) => {
      this.#queue.cancelAll(reason);
      for (const controller of this.#inFlight.values()) controller.abort(reason);
    });
  }

  /** Writes what is queued to each client (at most `graceMs`, default 1000), then closes every connection. */
  async close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closed = true;
    const clients = [...this.#clients];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, options.graceMs ?? 1000));
    await Promise.race([Promise.all(clients.map((c) => c.conn.end())), grace]);
    clearTimeout(timer);
    for (const c of clients) c.conn.close();
  }

  async #read(client: Client): Promise<void> {
    for await (const item of client.conn.lines()) {
      if (item.type === "too_large") {
        this.#send(client, frameTooLargeFrame(idFromPrefix(item.prefix), item.limit));
        continue;
      }
      const decoded = decodeRequest(item.bytes);
      if (!decoded.ok) this.#send(client, decoded.error);
      else this.#dispatch(client, decoded.request, performance.now());
    }
    client.eof = true;
    this.#probeWaiting(client);
    this.#endIfDone(client);
  }

  /**
   * At end of input a client either half-closed (it still reads its answers) or went away: a Unix
   * socket tells them apart only when written to. A request that only waits in the queue writes nothing
   * until it moves up, so its position is told again now: to a client that went away the write fails,
   * the connection closes and its requests leave the queue (a running one is noticed at its next frame,
   * a loading one within a second: its `loading` frames repeat).
   */
  #probeWaiting(client: Client): void {
    for (const id of client.inFlight.keys()) {
      const position = this.#queue.positionOf(`${client.number}/${id}`);
      if (position !== null) this.#send(client, { id, type: "queued", position });
    }
  }

  #dispatch(client: Client, request: Request, received: number): void {
    const { id } = request;
    if (client.inFlight.has(id)) {
      const error = new LodeError(
        "BAD_REQUEST",
        `a request with id ${JSON.stringify(id)} is already in flight`,
        {
          details: { field: "id", id },
        },
      );
      this.#send(client, errorFrame(id, error));
      return;
    }
    if (request.op === "health") {
      this.#sendAll(client, [this.#health(id), { id, type: "done" }]);
      return;
    }
    if (request.op === "cancel") {
      this.#send(client, {
        id,
        type: "cancelled",
        target: request.target,
        state: this.#cancel(client, request.target),
      });
      this.#send(client, { id, type: "done" });
      return;
    }
    if (isJobRequest(request)) {
      this.#job(client, request);
      return;
    }
    if (this.#draining) {
      const error = drainingError();
      this.#send(client, errorFrame(id, error));
      this.#record(client, request, received, { outcome: "error", code: error.code });
      return;
    }
    let now: Handled | null;
    try {
      now = answerAtOnce(request, this.#service);
    } catch (e) {
      const error = toLodeError(e);
      this.#send(client, errorFrame(id, error));
      this.#record(client, request, received, { outcome: "error", code: error.code });
      return;
    }
    if (now !== null) {
      this.#sendAll(client, [...now.frames, { id, type: "done" }]);
      this.#record(client, request, received, { ...now.activity, outcome: "ok" });
      return;
    }
    const controller = new AbortController();
    client.inFlight.set(id, controller);
    this.#inFlight.add(controller);
    const handled = handleRequest(request as Extract<Request, { op: ModelOp }>, {
      service: this.#service,
      key: `${client.number}/${id}`,
      signal: controller.signal,
      send: (frame) => this.#send(client, frame),
      backpressure: () =>
        client.conn.pendingBytes > this.#maxPending ? client.conn.flush() : Promise.resolve(),
    });
    handled.then(
      (h) => {
        const done: FrameOf<"done"> = { id, type: "done" };
        if (h.stopReason !== undefined) done.stop_reason = h.stopReason;
        if (h.usage !== undefined) done.usage = h.usage;
        if (h.toolCalls !== undefined && h.toolCalls.length > 0) done.tool_calls = h.toolCalls;
        this.#sendAll(client, [...h.frames, done]);
        this.#record(client, request, received, { ...h.activity, outcome: "ok" });
      },
      (error: LodeError) => {
        this.#send(client, errorFrame(id, error));
        this.#record(client, request, received, { outcome: "error", code: error.code });
      },
    ).finally(() => {
      client.inFlight.delete(id);
      this.#inFlight.delete(controller);
      this.#endIfDone(client);
    });
  }

  /**
   * A job op: answered by the daemon's jobs, tracked on its connection (so `cancel` and a client leaving
   * end a watch) but not by a drain (a job outlives its requests; the jobs are stopped by the daemon).
   */
  #job(client: Client, request: RequestOf<JobOp>): void {
    const { id } = request;
    const jobs = this.#jobs;
    if (jobs === undefined) {
      const error = new LodeError("BAD_REQUEST", `this daemon runs no jobs: ${request.op} is not served`, {
        details: { field: "op", op: request.op },
      });
      this.#send(client, errorFrame(id, error));
      return;
    }
    const controller = new AbortController();
    client.inFlight.set(id, controller);
    handleJobRequest(request, {
      jobs,
      signal: controller.signal,
      send: (frame) => this.#send(client, frame),
      backpressure: () =>
        client.conn.pendingBytes > this.#maxPending ? client.conn.flush() : Promise.resolve(),
    }).then(
      () => this.#send(client, { id, type: "done" }),
      (e) => this.#send(client, errorFrame(id, toLodeError(e))),
    ).finally(() => {
      client.inFlight.delete(id);
      this.#endIfDone(client);
    });
  }

  #cancel(client: Client, target: string): FrameOf<"cancelled">["state"] {
    const controller = client.inFlight.get(target);
    if (!controller) return "not_found";
    const reason = new LodeError("CANCELLED", "the request was cancelled", { details: { id: target } });
    const inQueue = this.#queue.cancel(`${client.number}/${target}`, reason);
    controller.abort(reason);
    return inQueue === "queued" ? "queued" : "running";
  }

  #health(id: string): FrameOf<"health"> {
    const stats = this.#queue.stats();
    const frame: FrameOf<"health"> = {
      id,
      type: "health",
      protocol: PROTOCOL_VERSION,
      version: VERSION,
      status: this.#status(),
      uptime_ms: Math.round(performance.now() - this.#started),
      queued: stats.queued,
      running: stats.running,
    };
    if (this.#loaded) frame.loaded = this.#loaded();
    if (this.#store !== undefined) frame.store = this.#store;
    return frame;
  }

  #send(client: Client, frame: ResponseFrame): void {
    client.conn.enqueue(frameLine(frame));
  }

  /** Frames that go together (a result and its `done`): queued as one write. */
  #sendAll(client: Client, frames: ResponseFrame[]): void {
    client.conn.enqueue(frameLines(frames));
  }

  #record(client: Client, request: Request, received: number, fields: Partial<ActivityRecord>): void {
    if (this.#onActivity === undefined) return; // no log: no record to build
    const record = activityRecord(request, {
      requestId: request.id,
      client: client.number,
      received,
      fields,
    });
    try {
      this.#onActivity(record);
    } catch { /* the log must not break a request */ }
  }

  /** After end of input, the connection closes once its last request is answered. */
  #endIfDone(client: Client): void {
    if (client.eof && client.inFlight.size === 0) void client.conn.end();
  }
}
