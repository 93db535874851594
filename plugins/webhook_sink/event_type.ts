/**
 * An event's type as a webhook names it, `<source>.<event>` (`download.done`, `job.state`,
 * `daemon.status`, `stream.dropped`), and the filter of a sink's `events` list: an entry is a type,
 * `<source>.*` (every event of a source) or `*`.
 *
 * @example
 * ```ts
 * import { eventMatcher } from "./event_type.ts";
 * const wanted = eventMatcher(["download.done", "job.*"]);
 * wanted("job.state"); // true
 * wanted("download.progress"); // false
 * ```
 * @module
 */
import type { Envelope } from "../../src/events/envelope.ts";

/** `<source>.<event>` of an envelope. */
export function eventType(envelope: Envelope): string {
  return `${envelope.source}.${envelope.event.event}`;
}

/** A test of types against `patterns`; every type passes when there are none. */
export function eventMatcher(patterns: readonly string[] | undefined): (type: string) => boolean {
  if (patterns === undefined || patterns.length === 0 || patterns.includes("*")) return () => true;
  const exact = new Set(patterns.filter((p) => !p.endsWith(".*")));
  const prefixes = patterns.filter((p) => p.endsWith(".*")).map((p) => p.slice(0, -1));
  return (type) => exact.has(type) || prefixes.some((p) => type.startsWith(p));
}
