/**
 * The envelope every event lode produces travels in on the event stream (`event_stream.ts`):
 * `{v: 1, seq, time, source, job_id?, event}`.
 *
 * - `v`: the envelope's version, 1.
 * - `seq`: the stream's sequence number, 1 for its first event, one more for each event published.
 * - `time`: when the event was published, milliseconds since the Unix epoch (a number: no clock
 *   formatting on the producer's path; `new Date(time)` reads it).
 * - `source`: the layer that produced it, which fixes the union `event` belongs to ({@link SourceEvents}):
 *   `download` (a pull's download events), `store` (the store commands' events: `ls`, `verify`, `rm`,
 *   `gc`, `path`, `import`, `export`), `lock` (`lode lock` and `lode sync`), `inference` (tokens, `done`,
 *   embeddings, and the status lines of a load in the process that runs it: the CLI's `lode run`, `chat`,
 *   `embed` without a daemon), `daemon` (the daemon's status lines — also as `lode status` relays them —
 *   and the requests it finished), `cli` (`inspect`, and a command's failure: `error`), `job` (a job's
 *   state, progress, artifacts and log; the events of the work it does keep their own source, with its
 *   `job_id`), `stream` (the stream's own `dropped` event).
 * - `job_id`: the job the event belongs to, when there is one.
 * - `event`: the event, tagged by `event` as every `--json` line is (status events as their
 *   {@link StatusLine}, `{"event":"status","status":…}`).
 *
 * What is an event: every line of these unions. A CLI command publishes each of its events once on its
 * stream (`src/cli/command_events.ts`), whether or not `--json` prints them, and `--json` prints exactly
 * the stream's events; the daemon publishes its own on its stream (`src/daemon/server/daemon_events.ts`).
 * What is not: a document a command shows as it is stored — the `job` record and the `job_plan` that
 * `lode job plan|ls|show|watch|run` print with `--json` (`Output.event`). Those restate what the job's own
 * events (source `job`) already published, so they are results of the command, printed, never published.
 *
 * A subscriber that could not keep up receives, where its gap is, one {@link DroppedEvent}:
 * `{"event":"dropped","count":…,"first_seq":…,"last_seq":…}` (the envelope's `seq` is `last_seq`).
 *
 * @example
 * ```ts
 * import { Envelope } from "./envelope.ts";
 * const line = '{"v":1,"seq":7,"time":1765000000000,"source":"download",' +
 *   '"event":{"event":"waiting","reason":"lock","what":"stories"}}';
 * const envelope = Envelope.parse(JSON.parse(line));
 * if (envelope.source === "download") console.log(envelope.event.event);
 * ```
 * @module
 */
import { z } from "zod";
import { DownloadEvent } from "./download_event.ts";
import { ErrorEvent } from "./error_event.ts";
import { InferenceEvent } from "./inference_event.ts";
import { InspectEvent } from "./inspect_event.ts";
import { JobEvent } from "./job_event.ts";
import { RequestEvent } from "./request_event.ts";
import { SyncEvent } from "./lock_event.ts";
import { StatusLine } from "./status_event.ts";
import { StoreEvent } from "./store_event.ts";

const count = z.number().int().nonnegative();

/**
 * Events a subscriber missed because its buffer was full: `count` of them, sequence numbers
 * `first_seq` to `last_seq` (a replay from a sequence number older than the stream keeps: those).
 *
 * @example
 * ```ts
 * import { DroppedEvent } from "./envelope.ts";
 * DroppedEvent.parse({ event: "dropped", count: 3, first_seq: 10, last_seq: 12 });
 * ```
 */
export const DroppedEvent = z.object({
  event: z.literal("dropped"),
  count: count,
  first_seq: count,
  last_seq: count,
});
export type DroppedEvent = z.infer<typeof DroppedEvent>;

/** Every event lode produces, tagged by `event`. */
export const LodeEvent = z.union([
  DownloadEvent,
  StoreEvent,
  SyncEvent,
  InferenceEvent,
  InspectEvent,
  StatusLine,
  RequestEvent,
  JobEvent,
  ErrorEvent,
  DroppedEvent,
]);
export type LodeEvent = z.infer<typeof LodeEvent>;

/** Which events each source publishes. */
export const SOURCE_EVENTS = {
  download: DownloadEvent,
  store: StoreEvent,
  lock: SyncEvent,
  inference: z.union([InferenceEvent, StatusLine]),
  daemon: z.union([StatusLine, RequestEvent]),
  cli: z.union([InspectEvent, ErrorEvent]),
  job: JobEvent,
  stream: DroppedEvent,
} as const;

/** The sources of events, each with the union its events belong to. */
export type SourceEvents = { [S in keyof typeof SOURCE_EVENTS]: z.infer<(typeof SOURCE_EVENTS)[S]> };
/** Who published an event. */
export type EventSource = keyof SourceEvents;

/** The source names. */
export const EventSource = z.enum(
  Object.keys(SOURCE_EVENTS) as [EventSource, ...EventSource[]],
);

/** The envelope of an event from `S`. */
export interface EnvelopeOf<S extends EventSource> {
  v: 1;
  seq: number;
  /** Milliseconds since the Unix epoch. */
  time: number;
  source: S;
  job_id?: string;
  event: SourceEvents[S];
}

/** An event in its envelope; `source` narrows `event`. */
export type Envelope = { [S in EventSource]: EnvelopeOf<S> }[EventSource];

function envelopeOf<S extends EventSource>(source: S) {
  return z.object({
    v: z.literal(1),
    seq: z.number().int().positive(),
    time: z.number().nonnegative(),
    source: z.literal(source),
    job_id: z.string().optional(),
    event: SOURCE_EVENTS[source],
  });
}

/** The envelope's schema: the `source` selects the event's union. */
export const Envelope: z.ZodType<Envelope> = z.discriminatedUnion("source", [
  envelopeOf("download"),
  envelopeOf("store"),
  envelopeOf("lock"),
  envelopeOf("inference"),
  envelopeOf("daemon"),
  envelopeOf("cli"),
  envelopeOf("job"),
  envelopeOf("stream"),
]) as z.ZodType<Envelope>;
