/**
 * The event sink: a consumer of every event of the event stream (a webhook, a file log).
 *
 * @example
 * ```ts
 * import type { EventSink } from "./sink_runner.ts";
 * const count = { n: 0 };
 * const sink: EventSink = { name: "count", event: () => void count.n++, close: () => Promise.resolve() };
 * ```
 * @module
 */
import type { Envelope } from "../events/envelope.ts";

/** A consumer of the event stream's envelopes. */
export interface EventSink {
  readonly name: string;
  event(envelope: Envelope): void | Promise<void>;
  close(): Promise<void>;
}
