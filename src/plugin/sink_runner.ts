/**
 * Event sinks and how they are fed ({@link attachSinks}): a sink receives every envelope of an
 * {@link EventStream} through its own bounded subscription, one envelope at a time, at its own pace.
 *
 * - The producer never waits for a sink: publishing costs it one bounded push per sink. A sink that
 *   is slow, throws or never returns only fills its own buffer; the events it misses are counted and
 *   reach it afterwards as one `dropped` envelope (source `stream`), and a `dropped` notice names it.
 * - A sink that throws (or rejects) gets the next envelope anyway; each failure is a `failed` notice
 *   naming the sink.
 * - `close()` ends the subscriptions, lets each sink read what its buffer still holds, then calls
 *   the sink's own `close()` (its flush); whatever has not finished within the grace period is left
 *   behind with a `timeout` notice, so a hung sink cannot hold the process.
 *
 * @example
 * ```ts
 * import { EventStream } from "../events/event_stream.ts";
 * import { attachSinks, type EventSink } from "./sink_runner.ts";
 * const lines: string[] = [];
 * const sink: EventSink = {
 *   name: "memory",
 *   event: (e) => void lines.push(JSON.stringify(e)),
 *   close: () => Promise.resolve(),
 * };
 * const stream = new EventStream();
 * const attached = attachSinks(stream, [sink], { onNotice: (n) => console.error(n.sink, n.kind) });
 * stream.publish("download", { event: "waiting", reason: "lock", what: "stories" });
 * await attached.close();
 * ```
 * @module
 */
import type { Envelope } from "../events/envelope.ts";
import type { EventStream, Subscription } from "../events/event_stream.ts";

/** A receiver of every event of a stream (a webhook, a log file, a plugin). */
export interface EventSink {
  readonly name: string;
  event(envelope: Envelope): void | Promise<void>;
  close(): Promise<void>;
}

/** What {@link attachSinks} reports about a sink, tagged with the sink's name. */
export type SinkNotice =
  /** `count` events did not reach the sink: its buffer was full. */
  | { kind: "dropped"; sink: string; count: number }
  /** The sink's `event` (or `close`) threw or rejected. */
  | { kind: "failed"; sink: string; error: unknown; seq?: number }
  /** The sink had not finished its buffer and its `close` within the grace period. */
  | { kind: "timeout"; sink: string; pending: number };

/** Options of {@link attachSinks}. */
export interface AttachSinksOptions {
  /** Envelopes held for each sink at most; more are dropped and counted. Default 4096. */
  bufferSize?: number;
  /** How long `close()` waits for the sinks to take their buffers and flush, in milliseconds. Default 5000. */
  graceMs?: number;
  /** Drops, failures and timeouts, each naming its sink. Default: only counted. */
  onNotice?: (notice: SinkNotice) => void;
}

/** Counts of one attached sink. */
export interface SinkStats {
  /** Envelopes handed to the sink (`dropped` ones included). */
  delivered: number;
  /** Envelopes the sink missed. */
  dropped: number;
  /** Calls that threw or rejected. */
  failed: number;
}

/** Sinks attached to a stream. */
export interface AttachedSinks {
  /** The counts of each sink, by name. */
  stats(): Record<string, SinkStats>;
  /** Ends the subscriptions and flushes every sink within the grace period. */
  close(): Promise<void>;
}

const DEFAULT_BUFFER = 4096;
const DEFAULT_GRACE_MS = 5000;

/** One sink's feeding loop. */
class Feeder {
  readonly stats: SinkStats = { delivered: 0, dropped: 0, failed: 0 };
  #reported = 0;
  readonly done: Promise<void>;

  constructor(
    readonly sink: EventSink,
    readonly subscription: Subscription,
    readonly notice: (n: SinkNotice) => void,
  ) {
    this.done = this.#run();
  }

  async #run(): Promise<void> {
    for await (const envelope of this.subscription) {
      if (envelope.source === "stream" && envelope.event.event === "dropped") this.reportDrops();
      this.stats.delivered++;
      try {
        await this.sink.event(envelope);
      } catch (error) {
        this.stats.failed++;
        this.notice({ kind: "failed", sink: this.sink.name, error, seq: envelope.seq });
      }
    }
  }

  /** Reports the drops not reported yet. */
  reportDrops(): void {
    this.stats.dropped = this.subscription.dropped;
    const count = this.subscription.dropped - this.#reported;
    if (count <= 0) return;
    this.#reported = this.subscription.dropped;
    this.notice({ kind: "dropped", sink: this.sink.name, count });
  }
}

/** Attaches `sinks` to `stream`, each with its own bounded subscription (see the module doc). */
export function attachSinks(
  stream: EventStream,
  sinks: readonly EventSink[],
  options: AttachSinksOptions = {},
): AttachedSinks {
  const notice = (n: SinkNotice) => {
    try {
      options.onNotice?.(n);
    } catch {
      // A notice that cannot be shown is no reason to stop feeding a sink.
    }
  };
  const bufferSize = options.bufferSize ?? DEFAULT_BUFFER;
  const feeders = sinks.map((sink) => new Feeder(sink, stream.subscribe({ bufferSize }), notice));
  let closing: Promise<void> | null = null;
  return {
    stats() {
      const out: Record<string, SinkStats> = {};
      for (const f of feeders) out[f.sink.name] = { ...f.stats, dropped: f.subscription.dropped };
      return out;
    },
    close() {
      return closing ??= closeAll(feeders, options.graceMs ?? DEFAULT_GRACE_MS, notice);
    },
  };
}

async function closeAll(feeders: Feeder[], graceMs: number, notice: (n: SinkNotice) => void): Promise<void> {
  for (const f of feeders) f.subscription.close();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) => timer = setTimeout(() => resolve("expired"), graceMs));
  try {
    await Promise.all(feeders.map(async (f) => {
      let closeCalled = false;
      const flushed = (async () => {
        await f.done;
        closeCalled = true;
        await f.sink.close();
        return "closed" as const;
      })().catch((error) => {
        f.stats.failed++;
        notice({ kind: "failed", sink: f.sink.name, error });
        return "closed" as const;
      });
      const outcome = await Promise.race([flushed, expired]);
      f.reportDrops();
      if (outcome === "expired") {
        notice({ kind: "timeout", sink: f.sink.name, pending: f.subscription.buffered });
        // A sink stuck in `event` is still told to let go of what it holds; nobody waits for it.
        if (!closeCalled) Promise.resolve().then(() => f.sink.close()).catch(() => {});
      }
    }));
  } finally {
    clearTimeout(timer);
  }
}
