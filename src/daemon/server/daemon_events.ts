/**
 * The daemon's one event stream ({@link EventStream}) and its subscribers. The daemon publishes on it
 * once: its router's status events and its own lifecycle (`starting`, `ready`, `draining`) as `daemon`
 * status lines ({@link daemonStatusLine}: the model a frame concerns, and why a `restarting` model is
 * loaded again), and the pulls it performs publish their download events there (source `download`,
 * `model_provider.ts`). The admin hub ({@link adminSubscriber}) and the operator's restart notices
 * ({@link restartNotices}) are listeners of it: called inline, each only enqueues (the hub's frames go
 * to each admin connection's bounded queue, a laggard is dropped), so no subscriber slows a producer.
 *
 * @example
 * ```ts
 * import { EventStream } from "../../events/event_stream.ts";
 * import { AdminHub } from "./admin_hub.ts";
 * import { adminSubscriber, daemonStatusLine } from "./daemon_events.ts";
 * const events = new EventStream();
 * const hub = new AdminHub();
 * const stop = events.listen(adminSubscriber(hub, { started: () => true }));
 * events.publish("daemon", daemonStatusLine({ status: "ready" }));
 * console.log(hub.snapshot); // { status: "ready" }
 * stop();
 * ```
 * @module
 */
import type { Envelope } from "../../events/envelope.ts";
import type { StatusEvent, StatusLine } from "../../events/status_event.ts";
import type { ModelStatus } from "../router/router.ts";
import type { AdminHub } from "./admin_hub.ts";

/**
 * The `daemon` status line of a status event: `model` (when it concerns one) first, then the event's
 * fields, then `reason` — the field order of the admin frame.
 */
export function daemonStatusLine(event: StatusEvent, from?: Omit<ModelStatus, "event">): StatusLine {
  const line = Object.assign({ event: "status" as const }, from ? { model: from.model } : {}, event);
  return from?.reason ? Object.assign(line, { reason: from.reason }) : line;
}

/** The status event of a status line, `model` and `reason` kept, its `event` tag removed. */
export function statusOfLine(line: StatusLine): StatusEvent {
  const { event: _tag, ...status } = line;
  return status as StatusEvent;
}

/** The `daemon` status line of an envelope, or null for any other event. */
function daemonStatus(e: Envelope): StatusLine | null {
  return e.source === "daemon" && e.event.event === "status" ? e.event : null;
}

/**
 * The admin hub as a listener of the daemon's stream: every `daemon` status line becomes an admin
 * frame, except a model's `ready` before the daemon `started()` (while starting, the daemon's own
 * `ready`, after every preload, is the start's one `ready`).
 */
export function adminSubscriber(hub: AdminHub, options: { started: () => boolean }): (e: Envelope) => void {
  return (e) => {
    const line = daemonStatus(e);
    if (line === null) return;
    if (line.status === "ready" && line.model !== undefined && !options.started()) return;
    hub.publish(statusOfLine(line));
  };
}

/**
 * The operator's notices of models being loaded again, as a listener of the daemon's stream: one line
 * per restart and reason (`M: runner restarting (crashed)`), not one per phase of its load.
 */
export function restartNotices(notice: (line: string) => void): (e: Envelope) => void {
  const restarts = new Map<string, string | undefined>();
  return (e) => {
    const line = daemonStatus(e);
    if (line?.model === undefined) return;
    const { model, reason } = line;
    if (line.status === "ready") restarts.delete(model);
    if (line.status === "restarting" && (!restarts.has(model) || restarts.get(model) !== reason)) {
      restarts.set(model, reason);
      notice(`${model}: runner restarting${reason ? ` (${reason})` : ""}`);
    }
  };
}
