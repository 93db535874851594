/**
 * Admission control of the daemon: at most `parallel` requests run per model;
 * the others wait in a bounded queue (`maxQueue` entries across all models),
 * first come first served within a model; a request that would have to wait
 * while the queue is full is rejected at once with `QUEUE_FULL`.
 *
 * A waiting entry is told its position (1 = next for its model) when it
 * joins and each time it moves up. Cancelling (by key, or through the
 * entry's own `signal` when its client goes away) removes a waiting entry —
 * its `admit` rejects with `CANCELLED` — or aborts a running one through the
 * admission's `signal`; the slot is free once the holder calls `release`.
 * Each admission reports how long it waited, on an injected clock.
 * @module
 */
import { LodeError } from "../../errors.ts";

/** Options of {@link AdmissionQueue}. */
export interface AdmissionQueueOptions {
  /** Entries that may wait, across all models (0: run at once or be refused). */
  maxQueue: number;
  /** Requests that may run at once per model (at least 1). */
  parallel: number;
  /** Milliseconds clock for wait times. Default `performance.now`. */
  now?: () => number;
}

/** Options of {@link AdmissionQueue.admit}. */
export interface AdmitOptions {
  /** The model the request runs on: parallelism is counted per model. */
  model: string;
  /** Identifies the request for {@link AdmissionQueue.cancel}; unique among admitted and waiting requests. */
  key: string;
  /** Aborting it (the client went away) cancels the request, waiting or running. */
  signal?: AbortSignal;
  /** Called with the 1-based position in the model's line when the request waits, and when it moves up. */
  onPosition?: (position: number) => void;
}

/** A running slot. Release it (or dispose it) when the request ends. */
export interface Admission extends Disposable {
  readonly key: string;
  readonly model: string;
  /** Milliseconds spent waiting in the queue (0 when it ran at once). */
  readonly waitMs: number;
  /** Aborted (reason: `LodeError("CANCELLED")`) when the request is cancelled while running. */
  readonly signal: AbortSignal;
  /** Frees the slot for the next waiting request of the model. Idempotent. */
  release(): void;
}

/** Counts of {@link AdmissionQueue.stats}. */
export interface QueueStats {
  queued: number;
  running: number;
  models: Record<string, { queued: number; running: number }>;
}

interface Entry {
  key: string;
  model: string;
  enqueuedAt: number;
  state: "queued" | "running";
  position: number;
  onPosition?: (position: number) => void;
  resolve: (admission: Admission) => void;
  reject: (error: LodeError) => void;
  controller: AbortController;
  detach: () => void;
}

interface ModelLine {
  running: number;
  waiting: Entry[];
}

/** A bounded, per-model-parallel, FIFO admission queue. */
export class AdmissionQueue {
  readonly #maxQueue: number;
  readonly #parallel: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #lines = new Map<string, ModelLine>();
  #queued = 0;
  #draining = false;
  #idleWaiters: (() => void)[] = [];

  constructor(options: AdmissionQueueOptions) {
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 0) {
      throw new LodeError("USAGE", `--max-queue must be a whole number ≥ 0 (got ${options.maxQueue})`);
    }
    if (!Number.isInteger(options.parallel) || options.parallel < 1) {
      throw new LodeError("USAGE", `--parallel must be a whole number ≥ 1 (got ${options.parallel})`);
    }
    this.#maxQueue = options.maxQueue;
    this.#parallel = options.parallel;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Requests that run at once per model (`--parallel`). */
  get parallel(): number {
    return this.#parallel;
  }

  /** True after {@link drain}: new requests are refused with `DRAINING`. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Waiting and running requests, in total and per model. */
  stats(): QueueStats {
    const models: QueueStats["models"] = {};
    let running = 0;
    for (const [model, line] of this.#lines) {
      models[model] = { queued: line.waiting.length, running: line.running };
      running += line.running;
    }
    return { queued: this.#queued, running, models };
  }

  /**
   * Resolves with a running slot for `options.model` — at once when one is
   * free and nobody waits before it — or rejects with `QUEUE_FULL` (it would
   * have to wait and the queue is full), `DRAINING`, `CANCELLED` (cancelled
   * while waiting) or `BAD_REQUEST` (the key is already in use).
   */
  admit(options: AdmitOptions): Promise<Admission> {
    if (this.#draining) {
      return Promise.reject(
        new LodeError("DRAINING", "the daemon is shutting down and takes no new requests", {
          details: { model: options.model },
        }),
      );
    }
    if (this.#entries.has(options.key)) {
      return Promise.reject(
        new LodeError("BAD_REQUEST", "a request with this id is already in flight on this connection", {
          details: { field: "id" },
        }),
      );
    }
    if (options.signal?.aborted) return Promise.reject(cancelled(options.key));
    const line = this.#line(options.model);
    const mustWait = line.running >= this.#parallel || line.waiting.length > 0;
    if (mustWait && this.#queued >= this.#maxQueue) {
      return Promise.reject(
        new LodeError(
          "QUEUE_FULL",
          `the queue is full (${this.#queued} requests waiting, --max-queue ${this.#maxQueue})`,
          {
            details: { model: options.model, queued: this.#queued, max_queue: this.#maxQueue },
          },
        ),
      );
    }
    return new Promise<Admission>((resolve, reject) => {
      const entry: Entry = {
        key: options.key,
        model: options.model,
        enqueuedAt: this.#now(),
        state: "queued",
        position: 0,
        resolve,
        reject,
        controller: new AbortController(),
        detach: () => {},
        ...(options.onPosition ? { onPosition: options.onPosition } : {}),
      };
      this.#entries.set(entry.key, entry);
      if (options.signal) {
        const signal = options.signal;
        const onAbort = () => this.cancel(entry.key);
        signal.addEventListener("abort", onAbort, { once: true });
        entry.detach = () => signal.removeEventListener("abort", onAbort);
      }
      if (mustWait) {
        line.waiting.push(entry);
        this.#queued++;
        this.#tellPosition(entry, line.waiting.length);
      } else {
        this.#grant(entry, line);
      }
    });
  }

  /**
   * Cancels the request `key`: a waiting one leaves the queue (its `admit`
   * rejects with `CANCELLED`); a running one has its admission's `signal`
   * aborted. Says which it was, or `"not_found"` (finished, or never seen).
   */
  cancel(key: string, reason?: LodeError): "queued" | "running" | "not_found" {
    const entry = this.#entries.get(key);
    if (!entry) return "not_found";
    const error = reason ?? cancelled(key);
    if (entry.state === "running") {
      if (!entry.controller.signal.aborted) entry.controller.abort(error);
      return "running";
    }
    const line = this.#line(entry.model);
    const at = line.waiting.indexOf(entry);
    line.waiting.splice(at, 1);
    this.#queued--;
    this.#entries.delete(key);
    entry.detach();
    entry.reject(error);
    this.#renumber(line, at);
    this.#forget(entry.model, line);
    return "queued";
  }

  /** The 1-based position of the waiting request `key` in its model's line; null when it is not waiting. */
  positionOf(key: string): number | null {
    const entry = this.#entries.get(key);
    return entry?.state === "queued" ? entry.position : null;
  }

  /**
   * Cancels everything: waiting requests reject with `reason` (default
   * `CANCELLED`), running ones are aborted. For the end of a drain's grace
   * period.
   */
  cancelAll(reason?: LodeError): void {
    for (const key of [...this.#entries.keys()]) this.cancel(key, reason);
  }

  /**
   * Refuses new requests from now on (`DRAINING`) and resolves once every
   * waiting and running request has finished. Waiting requests still run.
   */
  drain(): Promise<void> {
    this.#draining = true;
    if (this.#entries.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #line(model: string): ModelLine {
    let line = this.#lines.get(model);
    if (!line) {
      line = { running: 0, waiting: [] };
      this.#lines.set(model, line);
    }
    return line;
  }

  #grant(entry: Entry, line: ModelLine): void {
    entry.state = "running";
    line.running++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      line.running--;
      this.#entries.delete(entry.key);
      entry.detach();
      this.#pump(entry.model, line);
    };
    entry.resolve({
      key: entry.key,
      model: entry.model,
      waitMs: Math.max(0, this.#now() - entry.enqueuedAt),
      signal: entry.controller.signal,
      release,
      [Symbol.dispose]: release,
    });
  }

  /** Starts waiting requests while the model has free slots, then renumbers the rest. */
  #pump(model: string, line: ModelLine): void {
    let started = 0;
    while (line.running < this.#parallel && line.waiting.length > 0) {
      const next = line.waiting.shift()!;
      this.#queued--;
      started++;
      this.#grant(next, line);
    }
    if (started > 0) this.#renumber(line, 0);
    this.#forget(model, line);
    if (this.#entries.size === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  #renumber(line: ModelLine, from: number): void {
    for (let i = from; i < line.waiting.length; i++) this.#tellPosition(line.waiting[i]!, i + 1);
  }

  #tellPosition(entry: Entry, position: number): void {
    if (entry.position === position) return;
    entry.position = position;
    try {
      entry.onPosition?.(position);
    } catch { /* a listener must not break the queue */ }
  }

  /** Drops the bookkeeping of a model nobody uses. */
  #forget(model: string, line: ModelLine): void {
    if (line.running === 0 && line.waiting.length === 0) this.#lines.delete(model);
  }
}

function cancelled(key: string): LodeError {
  return new LodeError("CANCELLED", "the request was cancelled", { details: { key } });
}
