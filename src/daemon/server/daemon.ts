/**
 * The daemon's lifecycle, around any {@link Router}: take the single-instance
 * lock, serve the admin socket (status `starting`), preload the `--model`s
 * (their `loading_model` phases and `capabilities` on the admin stream, each
 * frame naming its `model`), then serve the inference socket and announce
 * `ready`. {@link Daemon.stop} drains: `draining` on the admin stream, new
 * requests refused with `DRAINING`, in-flight ones given `graceMs` to finish
 * and then stopped; then the router, the sockets (their files removed), the
 * activity log and the lock are closed, in that order.
 *
 * The daemon owns one event stream (`daemon_events.ts`): its router's status
 * events and its own lifecycle are published there once (source `daemon`),
 * the pulls it performs publish their download events there (`download`), and
 * the requests it finished are published there (`request`, when it keeps an
 * activity log); the admin hub, the
 * activity log and the operator's restart notices are its subscribers.
 *
 * With `jobs` it runs jobs submitted over its socket (../jobs/daemon_jobs.ts): their events go on the
 * stream (the admin hub sends them as `job` frames); a stop interrupts them (`interrupted`, resumable).
 *
 * A failure while starting (the lock is held: `DAEMON_RUNNING`; a socket is
 * live or not a socket; a preload fails) undoes what was started and is
 * thrown.
 * @module
 */
import { LodeError } from "../../errors.ts";
import { EventStream } from "../../events/event_stream.ts";
import type { ActivityLog, ActivityRecord } from "./activity_log.ts";
import { AdminHub } from "./admin_hub.ts";
import { AdmissionQueue } from "./admission_queue.ts";
import {
  activitySubscriber,
  adminSubscriber,
  daemonStatusLine,
  requestEvent,
  restartNotices,
} from "./daemon_events.ts";
import { InferenceServer } from "./inference_server.ts";
import { InferenceService } from "./inference_service.ts";
import { daemonJobEffects } from "./daemon_job_effects.ts";
import type { DaemonJobs } from "../jobs/daemon_jobs.ts";
import { acquireInstanceLock, type InstanceLock } from "../wire/instance_lock.ts";
import type { OpenAiHttp } from "../openai/openai_http.ts";
import type { Router } from "../router/router.ts";
import { instanceLockPath, listenUnixSocket, type UnixSocketListener } from "../wire/socket_path.ts";

/**
 * Options of {@link startDaemon}.
 *
 * @example
 * ```ts
 * import type { DaemonOptions } from "./daemon.ts";
 * const options = (router: DaemonOptions["router"]): DaemonOptions => ({ socket: "/tmp/l.sock", adminSocket: "/tmp/a.sock", router });
 * ```
 */
export interface DaemonOptions {
  /** The inference socket. */
  socket: string;
  /** The admin socket. */
  adminSocket: string;
  /** The single-instance lock. Default `<socket>.lock`. */
  lock?: string;
  router: Router;
  /** Models loaded before `ready`, in order. */
  preload?: string[];
  /** Requests that may wait (`--max-queue`). Default 64. */
  maxQueue?: number;
  /** Requests per model at once (`--parallel`). Default 1. */
  parallel?: number;
  /** How long a drain waits for in-flight requests. Default 30 s. */
  graceMs?: number;
  /** Where finished requests are recorded. Closed by {@link Daemon.stop}. */
  log?: ActivityLog;
  /** Names of the loaded models for `health`, when the router can tell them at once. */
  loaded?: () => string[];
  /** The store's directory, reported by `health` (clients use a daemon only when it serves their store). */
  store?: string;
  /** Aborts the start (a signal while preloading): it is undone and rejects with `INTERRUPTED`. */
  signal?: AbortSignal;
  /** Lines for the daemon's operator (stderr). */
  notice?: (line: string) => void;
  /** The backend plugin a model runs on (its restart notices name it), or undefined for a runner. */
  pluginOf?: (model: string) => string | undefined;
  /** Also serve the OpenAI-compatible HTTP API (openai_http.ts) here, sharing the router and the queue. */
  http?: { hostname: string; port: number; allowRemote?: boolean; allowOrigins?: readonly string[] };
  /**
   * The daemon's event stream (give the one its model provider publishes on). Default: a new one.
   * Closed by {@link Daemon.stop}.
   */
  events?: EventStream;
  /**
   * The jobs it runs (the job ops); the daemon gives them its warmup and inference (through its own queue)
   * and stops them when it stops.
   */
  jobs?: DaemonJobs;
}

/**
 * A running daemon.
 *
 * @example
 * ```ts
 * import type { Daemon } from "./daemon.ts";
 * const shutdown = (d: Daemon) => d.stop({ graceMs: 5000 });
 * ```
 */
export interface Daemon {
  /** The OpenAI-compatible front's base URL (`http://HOST:PORT/v1`), when `http` was given. */
  readonly httpUrl?: string;
  readonly lock: InstanceLock;
  readonly hub: AdminHub;
  /** The daemon's event stream: status (`daemon`) and download (`download`) events. */
  readonly events: EventStream;
  readonly server: InferenceServer;
  /** The jobs it runs, when it runs jobs. */
  readonly jobs?: DaemonJobs;
  /** Settles when {@link stop} has finished. */
  readonly stopped: Promise<void>;
  /**
   * Drains and shuts down (idempotent). `graceMs` overrides the daemon's; a
   * second call while draining shortens the grace to 0. Resolves with how
   * many in-flight requests had to be stopped.
   */
  stop(options?: { graceMs?: number }): Promise<number>;
}

/**
 * Starts the daemon: lock, admin socket, preloads, inference socket, `ready`.
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const notice = options.notice ?? (() => {});
  const lock = await acquireInstanceLock(options.lock ?? instanceLockPath(options.socket), {
    socket: options.socket,
    adminSocket: options.adminSocket,
  });
  if (lock.previous) notice(`took over the lock of pid ${lock.previous.pid}, which is gone`);
  const hub = new AdminHub({
    initial: { status: "starting" },
    onDrop: (i) => notice(`admin subscriber dropped: ${i.pendingFrames} frames behind`),
  });
  const events = options.events ?? new EventStream({
    onListenerError: (e) => notice(`an event listener failed: ${e}`),
  });
  let ready = false;
  const stopListening = [
    events.listen(adminSubscriber(hub, { started: () => ready })),
    events.listen(restartNotices(notice, options.pluginOf)),
    ...(options.log ? [events.listen(activitySubscriber(options.log))] : []),
  ];
  // Finished requests, published once when the daemon keeps a log (without one no record is built); their
  // prompts only when the operator logs them.
  const withPrompts = options.log?.logsPrompts ?? false;
  const onActivity = (record: ActivityRecord) =>
    void events.publish("daemon", requestEvent(record, withPrompts));
  events.publish("daemon", daemonStatusLine({ status: "starting" }));
  const undo: (() => Promise<unknown>)[] = [() => lock.release(), () => Promise.resolve(events.close())];
  const unwind = async () => {
    for (const step of undo.reverse()) await step().catch(() => {});
  };
  let admin: UnixSocketListener;
  let inference: UnixSocketListener;
  let unsubscribe = () => {};
  let http: OpenAiHttp | undefined;
  /** Stops the Batch API's periodic sweeps (none without it). */
  let stopSweeps = () => {};
  const queue = new AdmissionQueue({ maxQueue: options.maxQueue ?? 64, parallel: options.parallel ?? 1 });
  const jobs = options.jobs;
  jobs?.addEffects(daemonJobEffects(new InferenceService({ router: options.router, queue }), jobs.store));
  const server = new InferenceServer({
    router: options.router,
    queue,
    ...(jobs ? { jobs } : {}),
    ...(options.loaded ? { loaded: options.loaded } : {}),
    ...(options.store ? { store: options.store } : {}),
    ...(options.log ? { onActivity } : {}),
  });
  try {
    admin = await listenUnixSocket(options.adminSocket);
    const adminServing = hub.serve(admin.listener);
    undo.push(async () => {
      await hub.close({ graceMs: 100 });
      await admin.close();
      await adminServing;
    });
    // The model named in the line (and why a `restarting` one is loaded again).
    unsubscribe = options.router.onStatus(({ event, ...from }) =>
      void events.publish("daemon", daemonStatusLine(event, from))
    );
    undo.push(() => Promise.resolve(unsubscribe()));
    undo.push(() => Promise.resolve(stopListening.forEach((stop) => stop())));
    for (const model of options.preload ?? []) {
      const started = performance.now();
      await options.router.load(model, options.signal ? { signal: options.signal } : {});
      notice(`loaded ${model} in ${Math.round(performance.now() - started)} ms`);
    }
    if (options.signal?.aborted) throw new LodeError("INTERRUPTED", "the daemon was stopped while starting");
    inference = await listenUnixSocket(options.socket);
    if (options.http) {
      const { startOpenAiHttp } = await import("../openai/openai_http.ts");
      // The Files and Batch APIs, when the daemon runs jobs: each batch is one of its jobs.
      const batchApi = jobs
        ? (await import("../batch/batches_api.ts")).createBatchApi({
          storeRoot: jobs.store.layout.root,
          jobs,
          notice,
        })
        : undefined;
      const front = startOpenAiHttp({
        ...options.http,
        router: options.router,
        queue,
        ...(options.log ? { onActivity } : {}),
        ...(batchApi ? { batchApi } : {}),
      });
      http = front;
      undo.push(() => front.close());
      if (batchApi) {
        stopSweeps = () => batchApi.close();
        undo.push(() => Promise.resolve(stopSweeps()));
      }
      // Batches a stopped daemon left go on (their jobs resumed), in the background; then expiry, periodically.
      batchApi?.start().catch((e) => notice(`resuming batches: ${e}`));
    }
  } catch (e) {
    await options.router.close({ graceMs: 0 }).catch(() => {});
    await unwind();
    throw e;
  }
  const serving = server.serve(inference.listener);
  ready = true;
  events.publish("daemon", daemonStatusLine({ status: "ready" }));
  notice(
    `ready: ${options.socket} (admin ${options.adminSocket})${http ? `, ${http.url}` : ""}, pid ${Deno.pid}`,
  );

  const done = Promise.withResolvers<void>();
  let stopping: Promise<number> | null = null;
  let graceMs = options.graceMs ?? 30_000;
  let hurry: (() => void) | null = null;
  const stop = (o: { graceMs?: number } = {}): Promise<number> => {
    if (stopping) {
      hurry?.();
      return stopping;
    }
    if (o.graceMs !== undefined) graceMs = o.graceMs;
    events.publish("daemon", daemonStatusLine({ status: "draining" }));
    notice(`draining: ${server.inFlight} request(s) in flight, grace ${graceMs} ms`);
    // Running jobs stop now, recorded `interrupted` (resumable), while requests get their grace.
    // No sweep resumes a batch's job from now on: the jobs are being stopped.
    stopSweeps();
    const jobsStopped = jobs?.stop();
    stopping = (async () => {
      const hurried = new Promise<number>((resolve) => hurry = () => resolve(0));
      const drainBoth = (ms: number) =>
        Promise.all([server.drain({ graceMs: ms }), http?.drain({ graceMs: ms }) ?? 0]).then(([a, b]) =>
          a + b
        );
      const drained = drainBoth(graceMs);
      // A second stop (a second Ctrl-C) ends the grace period now.
      const stopped = await Promise.race([drained, hurried.then(() => drainBoth(0))]);
      await drained;
      await jobsStopped;
      await server.close({ graceMs: 1000 });
      await inference.close();
      await serving;
      await options.router.close({ graceMs: 0 }).catch((e) => notice(`closing the router: ${e}`));
      await unwind();
      await options.log?.close();
      if (stopped > 0) notice(`stopped ${stopped} request(s) that did not finish in time`);
      done.resolve();
      return stopped;
    })();
    return stopping;
  };
  return {
    lock,
    hub,
    events,
    server,
    stopped: done.promise,
    stop,
    ...(http ? { httpUrl: http.url } : {}),
    ...(jobs ? { jobs } : {}),
  };
}
