/**
 * The fan-out of lode's events ({@link EventStream}): a producer publishes an event once; the stream
 * wraps it in its envelope (`envelope.ts`: the next sequence number, the time, the source, the job) and
 * hands it to every subscriber.
 *
 * - A listener (`listen`) is called inline, in publishing order: the terminal renderer, `--json`
 *   printing. One that throws is isolated: the error goes to the stream's `onListenerError`, the
 *   producer and the other subscribers carry on.
 * - A subscription (`subscribe`) is read at its own pace (an async iterable) through a bounded buffer:
 *   publishing never waits for it. When its buffer is full the events it misses are counted, and the
 *   next thing it reads after them is one `dropped` event with the count — a slow or stuck reader costs
 *   the producer one comparison per event.
 * - With `replay: N` the stream keeps its last N envelopes; a subscription started `since` a sequence
 *   number first receives the kept ones after it (a `dropped` event first when some are no longer kept).
 *
 * @example
 * ```ts
 * import { EventStream } from "./event_stream.ts";
 * const stream = new EventStream({ replay: 100 });
 * const stop = stream.listen((e) => console.log(JSON.stringify(e.event)));
 * stream.publish("download", { event: "waiting", reason: "lock", what: "stories" }, { jobId: "j1" });
 * const late = stream.subscribe({ since: 0, bufferSize: 16 });
 * for await (const e of late) {
 *   console.log(e.seq, e.source);
 *   break; // ends the subscription
 * }
 * stop();
 * stream.close();
 * ```
 * @module
 */
import type { DroppedEvent, Envelope, EnvelopeOf, EventSource, SourceEvents } from "./envelope.ts";

/** Options of a {@link EventStream}. */
export interface EventStreamOptions {
  /** Envelopes kept for subscriptions that start `since` a sequence number. Default 0. */
  replay?: number;
  /** The clock of `time`: milliseconds since the Unix epoch. Default `Date.now`. */
  now?: () => number;
  /** A listener threw (the stream carries on). Default: the error is only counted. */
  onListenerError?: (error: unknown, envelope: Envelope) => void;
}

/** Options of {@link EventStream.subscribe}. */
export interface SubscribeOptions {
  /** Events held for the reader at most; more are dropped and counted. Default 1024. */
  bufferSize?: number;
  /** Start with the kept envelopes whose `seq` is above this (needs the stream's `replay`). */
  since?: number;
  /** Called for each dropped envelope, with this subscription's count of drops not yet reported. */
  onDrop?: (pending: number) => void;
  /** Ends the subscription. */
  signal?: AbortSignal;
}

/** A subscription: read it with `for await`; leaving the loop or `close()` ends it. */
export interface Subscription extends AsyncIterableIterator<Envelope> {
  /** Events dropped for this subscription so far. */
  readonly dropped: number;
  /** Events waiting to be read. */
  readonly buffered: number;
  close(): void;
}

const DEFAULT_BUFFER = 1024;

/** The fan-out (see the module doc). */
export class EventStream {
  #seq = 0;
  readonly #now: () => number;
  readonly #onListenerError?: (error: unknown, envelope: Envelope) => void;
  readonly #listeners = new Set<(envelope: Envelope) => void>();
  readonly #subscribers = new Set<Subscriber>();
  readonly #ring: (Envelope | undefined)[];
  #closed = false;
  /** Errors thrown by listeners so far. */
  listenerErrors = 0;

  constructor(options: EventStreamOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#onListenerError = options.onListenerError;
    this.#ring = new Array(Math.max(0, options.replay ?? 0));
  }

  /** The sequence number of the last event published (0 before the first). */
  get seq(): number {
    return this.#seq;
  }

  /** Publishes `event` from `source` to every listener and subscription; returns its envelope. */
  publish<S extends EventSource>(
    source: S,
    event: SourceEvents[S],
    options?: { jobId?: string },
  ): EnvelopeOf<S> {
    const envelope: EnvelopeOf<S> = { v: 1, seq: ++this.#seq, time: this.#now(), source, event };
    if (options?.jobId !== undefined) envelope.job_id = options.jobId;
    const e = envelope as Envelope;
    if (this.#closed) return envelope;
    if (this.#ring.length > 0) this.#ring[e.seq % this.#ring.length] = e;
    for (const listener of this.#listeners) {
      try {
        listener(e);
      } catch (error) {
        this.listenerErrors++;
        try {
          this.#onListenerError?.(error, e);
        } catch {
          // The error handler's own failure is not the producer's either.
        }
      }
    }
    for (const subscriber of this.#subscribers) subscriber.push(e);
    return envelope;
  }

  /** Calls `listener` inline for every event published from now on; returns the function that stops it. */
  listen(listener: (envelope: Envelope) => void): () => void {
    const once = (e: Envelope) => listener(e);
    this.#listeners.add(once);
    return () => this.#listeners.delete(once);
  }

  /** A bounded subscription to the events published from now on (or kept since `options.since`). */
  subscribe(options: SubscribeOptions = {}): Subscription {
    const subscriber = new Subscriber(
      Math.max(1, options.bufferSize ?? DEFAULT_BUFFER),
      this.#now,
      options.onDrop,
      () => this.#subscribers.delete(subscriber),
    );
    if (options.since !== undefined) this.#replay(subscriber, options.since);
    if (this.#closed) subscriber.close();
    else this.#subscribers.add(subscriber);
    if (options.signal) {
      if (options.signal.aborted) subscriber.close();
      else options.signal.addEventListener("abort", () => subscriber.close(), { once: true });
    }
    return subscriber.iterator();
  }

  /** The kept envelopes whose `seq` is above `since`, oldest first. */
  kept(since = 0): Envelope[] {
    const size = this.#ring.length;
    const out: Envelope[] = [];
    for (let seq = Math.max(since + 1, this.#seq - size + 1, 1); seq <= this.#seq; seq++) {
      const e = this.#ring[seq % size];
      if (e?.seq === seq) out.push(e);
    }
    return out;
  }

  /** Ends every subscription (each still yields what it holds); later events go nowhere. */
  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    for (const subscriber of [...this.#subscribers]) subscriber.close();
  }

  #replay(subscriber: Subscriber, since: number): void {
    const kept = this.kept(since);
    const oldest = kept[0]?.seq ?? this.#seq + 1;
    const missed = oldest - 1 - Math.max(0, since);
    if (missed > 0) subscriber.missed(missed, oldest - missed);
    for (const e of kept) subscriber.push(e);
  }
}

/** One subscription's bounded buffer. */
class Subscriber {
  /** Envelopes to read, from `#head` on; `dropped` markers do not count against the buffer. */
  #queue: Envelope[] = [];
  #head = 0;
  #held = 0;
  #pending = 0;
  #firstMissed = 0;
  #lastMissed = 0;
  #dropped = 0;
  #waiter: ((result: IteratorResult<Envelope>) => void) | null = null;
  #closed = false;

  constructor(
    readonly bufferSize: number,
    readonly now: () => number,
    readonly onDrop: ((pending: number) => void) | undefined,
    readonly detach: () => void,
  ) {}

  push(e: Envelope): void {
    if (this.#closed) return;
    if (this.#held >= this.bufferSize) {
      if (this.#pending === 0) this.#firstMissed = e.seq;
      this.#lastMissed = e.seq;
      this.#pending++;
      this.#dropped++;
      try {
        this.onDrop?.(this.#pending);
      } catch {
        // The subscriber's callback never fails the producer.
      }
      return;
    }
    if (this.#pending > 0) this.#enqueue(this.#marker());
    this.#held++;
    this.#enqueue(e);
  }

  /** `count` events before `first + count` were missed (a replay from further back than the ring). */
  missed(count: number, first: number): void {
    this.#firstMissed = first;
    this.#lastMissed = first + count - 1;
    this.#pending = count;
    this.#dropped += count;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.detach();
    if (this.#waiter && this.#pending === 0) {
      const resolve = this.#waiter;
      this.#waiter = null;
      resolve({ value: undefined, done: true });
    } else if (this.#waiter) {
      const resolve = this.#waiter;
      this.#waiter = null;
      resolve({ value: this.#marker(), done: false });
    }
  }

  iterator(): Subscription {
    // deno-lint-ignore no-this-alias
    const self = this;
    return {
      get dropped() {
        return self.#dropped;
      },
      get buffered() {
        return self.#queue.length - self.#head;
      },
      close: () => this.close(),
      next: () => this.#next(),
      return: () => {
        this.close();
        this.#queue = [];
        this.#head = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  #next(): Promise<IteratorResult<Envelope>> {
    if (this.#head < this.#queue.length) {
      const value = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Envelope;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head >= 4096 && this.#head * 2 >= this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      if (value.source !== "stream") this.#held--;
      return Promise.resolve({ value, done: false });
    }
    // Caught up: the gap, if there was one, is reported before anything newer.
    if (this.#pending > 0) return Promise.resolve({ value: this.#marker(), done: false });
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiter = resolve);
  }

  #enqueue(e: Envelope): void {
    if (this.#waiter) {
      const resolve = this.#waiter;
      this.#waiter = null;
      if (e.source !== "stream") this.#held--;
      resolve({ value: e, done: false });
    } else this.#queue.push(e);
  }

  /** The `dropped` envelope for the events missed so far; resets the count. */
  #marker(): Envelope {
    const event: DroppedEvent = {
      event: "dropped",
      count: this.#pending,
      first_seq: this.#firstMissed,
      last_seq: this.#lastMissed,
    };
    this.#pending = 0;
    return { v: 1, seq: this.#lastMissed, time: this.now(), source: "stream", event };
  }
}
