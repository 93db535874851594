/**
 * The daemon's one event stream ({@link EventStream}) and its subscribers. The daemon publishes on it
 * once: its router's status events and its own lifecycle (`starting`, `ready`, `draining`) as `daemon`
 * status lines ({@link daemonStatusLine}: the model a frame concerns, and why a `restarting` model is
 * loaded again) and the requests it finished (`request` events, {@link requestEvent}, when it keeps an
 * activity log), and the pulls it performs publish their download events there (source `download`,
 * `model_provider.ts`). The admin hub ({@link adminSubscriber}), the activity log
 * ({@link activitySubscriber}) and the operator's restart notices ({@link restartNotices}) are listeners
 * of it: called inline, each only enqueues (the hub's frames go to each admin connection's bounded queue,
 * a laggard is dropped; the log queues a line for its background writer), so no subscriber slows a
 * producer.
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
import type { RequestEvent } from "../../events/request_event.ts";
import type { StatusEvent, StatusLine } from "../../events/status_event.ts";
import type { ModelStatus } from "../router/router.ts";
import type { ActivityLog, ActivityRecord } from "./activity_log.ts";
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
 * status frame and every job event a `job` frame, except a model's `ready` before the daemon `started()` (while starting, the daemon's own
 * `ready`, after every preload, is the start's one `ready`).
 */
export function adminSubscriber(hub: AdminHub, options: { started: () => boolean }): (e: Envelope) => void {
  return (e) => {
    if (e.source === "job") {
      hub.publishJob(e.event);
      return;
    }
    const line = daemonStatus(e);
    if (line === null) return;
    if (line.status === "ready" && line.model !== undefined && !options.started()) return;
    hub.publish(statusOfLine(line));
  };
}

/**
 * The operator's notices of models being loaded again, as a listener of the daemon's stream: one line
 * per restart and reason (`M: runner restarting (crashed)`), not one per phase of its load. A model that
 * runs on a backend plugin (`pluginOf`) names it: `M: backend plugin openai_backend restarting (crashed)`.
 */
export function restartNotices(
  notice: (line: string) => void,
  pluginOf: (model: string) => string | undefined = () => undefined,
): (e: Envelope) => void {
  const restarts = new Map<string, string | undefined>();
  return (e) => {
    const line = daemonStatus(e);
    if (line?.model === undefined) return;
    const { model, reason } = line;
    if (line.status === "ready") restarts.delete(model);
    if (line.status === "restarting" && (!restarts.has(model) || restarts.get(model) !== reason)) {
      restarts.set(model, reason);
      const plugin = pluginOf(model);
      const what = plugin === undefined ? "runner" : `backend plugin ${plugin}`;
      notice(`${model}: ${what} restarting${reason ? ` (${reason})` : ""}`);
    }
  };
}

/**
 * The `request` event of a finished request's record. Its prompt, messages and output stay off the
 * stream unless `withPrompts` (the operator's `--log-prompts`).
 */
export function requestEvent(record: ActivityRecord, withPrompts: boolean): RequestEvent {
  if (
    withPrompts ||
    (record.prompt === undefined && record.messages === undefined && record.output === undefined)
  ) {
    return Object.assign({ event: "request" as const }, record);
  }
  const { prompt: _prompt, messages: _messages, output: _output, ...rest } = record;
  return Object.assign({ event: "request" as const }, rest);
}

/** The activity log as a listener of the daemon's stream: each `request` event becomes its record. */
export function activitySubscriber(log: Pick<ActivityLog, "write">): (e: Envelope) => void {
  return (e) => {
    if (e.source !== "daemon" || e.event.event !== "request") return;
    const { event: _tag, ...record } = e.event;
    log.write(record);
  };
}
