/**
 * The admin status stream (docs/protocol.md): every subscriber of the admin
 * socket gets, on connect, the `capabilities` frame (when the backend has
 * announced one), then the snapshot frame (the latest lifecycle status), then
 * every status event published after it, in order. Frames are
 * `{"id":"admin","type":"status",…}` with the event's fields — a load phase's
 * too — flattened in.
 *
 * A `capabilities` event is kept in its own slot, so it never replaces the
 * lifecycle snapshot (a late subscriber after `ready` sees capabilities, then
 * `ready`). Each frame is encoded once for all subscribers. Each subscriber
 * has a bounded buffer of frames the kernel has not taken yet; one that lags
 * past it is dropped (closed — it reconnects to resume from the snapshot; the
 * last line it receives may be cut short, and a reader discards it). What
 * subscribers write is read and ignored. The events of the jobs the daemon
 * runs are sent live as `{"id":"admin","type":"job","event":{…}}` frames
 * (not part of the snapshot: `job_list` tells what runs).
 * @module
 */
import type { JobEvent } from "../../events/job_event.ts";
import type { StatusEvent } from "../../events/status_event.ts";
import { encodeFrame } from "../wire/frame_lines.ts";
import { NdjsonConnection } from "../wire/ndjson_connection.ts";

/** Frames a subscriber may fall behind by before it is dropped. */
const DEFAULT_ADMIN_BUFFER_FRAMES = 256;

/** Options of {@link AdminHub}. */
export interface AdminHubOptions {
  /** The snapshot before anything is published. Default `{status: "starting"}`. */
  initial?: StatusEvent;
  /** Frames a subscriber may lag by. Default {@link DEFAULT_ADMIN_BUFFER_FRAMES}. */
  bufferFrames?: number;
  /** Told when a lagging subscriber is dropped (for the daemon's log). */
  onDrop?: (info: { pendingFrames: number; pendingBytes: number }) => void;
}

/**
 * The admin wire frame of `event`, one line of bytes.
 *
 * @example
 * ```ts
 * renderStatusFrame({ status: "loading_model", phase: "kv_cache", n_ctx: 2048 });
 * // {"id":"admin","type":"status","status":"loading_model","phase":"kv_cache","n_ctx":2048}\n
 * ```
 */
export function renderStatusFrame(event: StatusEvent): Uint8Array {
  return encodeFrame({ id: "admin", type: "status", ...event });
}

/** The daemon's status broadcaster and admin socket server. */
export class AdminHub {
  readonly #subscribers = new Set<NdjsonConnection>();
  readonly #bufferFrames: number;
  readonly #onDrop: AdminHubOptions["onDrop"];
  #snapshot: StatusEvent;
  #snapshotFrame: Uint8Array;
  #capabilities: StatusEvent | null = null;
  #capabilitiesFrame: Uint8Array | null = null;
  #dropped = 0;
  #closed = false;

  constructor(options: AdminHubOptions = {}) {
    this.#snapshot = options.initial ?? { status: "starting" };
    this.#snapshotFrame = renderStatusFrame(this.#snapshot);
    this.#bufferFrames = options.bufferFrames ?? DEFAULT_ADMIN_BUFFER_FRAMES;
    this.#onDrop = options.onDrop;
  }

  /** The latest lifecycle event (never a `capabilities` one). */
  get snapshot(): StatusEvent {
    return this.#snapshot;
  }

  /** The latest `capabilities` event, or null before the backend announced one. */
  get capabilities(): StatusEvent | null {
    return this.#capabilities;
  }

  /** Subscribers connected now. */
  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Subscribers dropped for lagging, since the start. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Records `event` (as the snapshot, or as the capabilities) and sends it to
   * every subscriber; subscribers that fall too far behind are dropped.
   */
  publish(event: StatusEvent): void {
    const frame = renderStatusFrame(event);
    if (event.status === "capabilities") {
      this.#capabilities = event;
      this.#capabilitiesFrame = frame;
    } else {
      this.#snapshot = event;
      this.#snapshotFrame = frame;
    }
    this.#broadcast(frame);
  }

  #broadcast(frame: Uint8Array): void {
    for (const subscriber of this.#subscribers) {
      subscriber.enqueue(frame);
      if (subscriber.pendingFrames > this.#bufferFrames) this.#drop(subscriber);
    }
  }

  /** Sends `event` of a job the daemon runs, as `{"id":"admin","type":"job","event":{…}}` (not kept). */
  publishJob(event: JobEvent): void {
    this.#broadcast(encodeFrame({ id: "admin", type: "job", event }));
  }

  /**
   * Streams to one admin connection: capabilities (if known), snapshot, then
   * live events, until it lags, fails or the hub closes. Returns at once.
   */
  attach(conn: Deno.Conn): void {
    // Many, mostly idle, sent shared bytes: no write buffer of their own (a backlog is joined when written).
    const subscriber = new NdjsonConnection(conn, {
      maxLineBytes: 4096,
      readBufferBytes: 4096,
      writeBufferBytes: 0,
    });
    if (this.#closed) {
      subscriber.close();
      return;
    }
    // Queued synchronously with the subscription: no event can fall between the snapshot and the live stream.
    if (this.#capabilitiesFrame) subscriber.enqueue(this.#capabilitiesFrame);
    subscriber.enqueue(this.#snapshotFrame);
    this.#subscribers.add(subscriber);
    subscriber.whenClosed.then(() => this.#subscribers.delete(subscriber));
    void this.#ignoreInput(subscriber);
  }

  /** Accepts admin connections from `listener` until it is closed. */
  async serve(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) this.attach(conn);
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e; // the listener was closed
    }
  }

  /**
   * Ends every subscription: frames already published are written first (at
   * most `graceMs`, default 1000, for subscribers that do not read), then the
   * connections close. New connections are closed at once after this.
   */
  async close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closed = true;
    const subscribers = [...this.#subscribers];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, options.graceMs ?? 1000));
    await Promise.race([Promise.all(subscribers.map((s) => s.end())), grace]);
    clearTimeout(timer);
    for (const s of subscribers) s.close();
  }

  #drop(subscriber: NdjsonConnection): void {
    const info = { pendingFrames: subscriber.pendingFrames, pendingBytes: subscriber.pendingBytes };
    this.#subscribers.delete(subscriber);
    this.#dropped++;
    subscriber.close();
    try {
      this.#onDrop?.(info);
    } catch { /* a logging hook must not break publishing */ }
  }

  /**
   * Reads and discards what a subscriber writes. End of input is not the end
   * of the subscription (a client may half-close); a failed write is.
   */
  async #ignoreInput(subscriber: NdjsonConnection): Promise<void> {
    for await (const _ of subscriber.lines()) { /* client writes are ignored */ }
  }
}
