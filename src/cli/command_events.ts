/**
 * A command's one event stream ({@link commandEvents}) and how a command's failure reaches it
 * ({@link reportError}). Every event a command produces is published there once, with its source: a
 * pull's download events, the store commands' events (`store`), `lode lock` and `lode sync` (`lock`), a
 * load's status lines and the tokens, `done` and embeddings of inference run in this process
 * (`inference`), the daemon's status lines `lode status` relays (`daemon`), `inspect` and the failure's
 * `error` (`cli`), a job's events (`job`). With `--json` one listener prints each event as one line
 * (`Output.event`): the NDJSON on stdout is the stream, in publishing order.
 *
 * @example
 * ```ts
 * import { LodeError } from "../errors.ts";
 * import { commandEvents, reportError } from "./command_events.ts";
 * import { Output } from "./output.ts";
 * const output = new Output({ json: true, quiet: false, color: false });
 * const events = commandEvents(output);
 * events.listen((e) => console.error(e.seq, e.source, e.event.event));
 * reportError(events, output, new LodeError("USAGE", "name a model"));
 * // stdout: {"event":"error","code":"USAGE",…}; stderr: 1 cli error
 * ```
 * @module
 */
import type { LodeError } from "../errors.ts";
import type { ErrorEvent } from "../events/error_event.ts";
import { EventStream } from "../events/event_stream.ts";
import type { Output } from "./output.ts";

/**
 * A command's stream: a listener's failure is a note on stderr (the producer carries on); with `--json`
 * the printer of its events is its first listener (a closed output drops the line: the command stops
 * through `Output.closed`).
 */
export function commandEvents(output: Output): EventStream {
  const events = new EventStream({
    // A listener's bug neither fails the command nor goes unseen.
    onListenerError: output.sink((e) => output.stderr(`lode: an event listener failed: ${e}\n`)),
  });
  if (output.json) events.listen(output.sink((e) => output.event(e.event)));
  return events;
}

/**
 * Reports a command's failure: one `error` event (source `cli`) on `events` unless the failure was
 * already reported as an event (`Output.errorReported`: an earlier failure, or a pull's `failed`), and
 * the text for people on stderr (without `--json`, every time).
 */
export function reportError(events: EventStream, output: Output, error: LodeError): void {
  if (!output.errorReported) {
    output.errorReported = true;
    events.publish("cli", { event: "error", ...error.toJSON() } satisfies ErrorEvent);
    if (output.closed.aborted) throw output.closed.reason;
  }
  output.error(error);
}
