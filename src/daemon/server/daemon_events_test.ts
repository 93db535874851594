import assert from "node:assert/strict";
import { Envelope } from "../../events/envelope.ts";
import { EventStream } from "../../events/event_stream.ts";
import type { StatusEvent } from "../../events/status_event.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import { ActivityLog, type ActivityRecord } from "./activity_log.ts";
import { AdminHub, renderStatusFrame } from "./admin_hub.ts";
import {
  activitySubscriber,
  adminSubscriber,
  daemonStatusLine,
  requestEvent,
  restartNotices,
  statusOfLine,
} from "./daemon_events.ts";

const RESTARTING: StatusEvent = { status: "restarting", phase: "kv_cache", n_ctx: 2048 };
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("daemonStatusLine: a valid daemon envelope whose admin frame keeps the field order (model, the event, reason)", () => {
  const stream = new EventStream();
  const e = stream.publish(
    "daemon",
    daemonStatusLine(RESTARTING, { model: "stories260K", reason: "crashed" }),
  );
  assert.deepEqual(Envelope.parse(JSON.parse(JSON.stringify(e))), e);
  assert.equal(
    text(renderStatusFrame(statusOfLine(e.event as Parameters<typeof statusOfLine>[0]))),
    '{"id":"admin","type":"status","model":"stories260K","status":"restarting","phase":"kv_cache",' +
      '"n_ctx":2048,"reason":"crashed"}\n',
  );
  assert.deepEqual(daemonStatusLine({ status: "ready" }), { event: "status", status: "ready" });
});

Deno.test("adminSubscriber: daemon status lines become the hub's snapshot; a model's ready waits for the start; other events are ignored", () => {
  const stream = new EventStream();
  const hub = new AdminHub();
  let started = false;
  stream.listen(adminSubscriber(hub, { started: () => started }));
  stream.publish(
    "daemon",
    daemonStatusLine({ status: "loading_model", phase: "mmap", path: "/p" }, { model: "m" }),
  );
  assert.deepEqual(hub.snapshot, { model: "m", status: "loading_model", phase: "mmap", path: "/p" });
  stream.publish("daemon", daemonStatusLine({ status: "ready" }, { model: "m" }));
  assert.equal(hub.snapshot.status, "loading_model", "no model ready while starting");
  stream.publish("download", { event: "waiting", reason: "lock", what: "m" });
  started = true;
  stream.publish("daemon", daemonStatusLine({ status: "ready" }));
  assert.deepEqual(hub.snapshot, { status: "ready" });
  stream.publish("daemon", daemonStatusLine({ status: "ready" }, { model: "m" }));
  assert.deepEqual(hub.snapshot, { model: "m", status: "ready" });
});

Deno.test("restartNotices: one notice per restart and reason, not one per phase; a ready model restarts anew", () => {
  const stream = new EventStream();
  const lines: string[] = [];
  stream.listen(restartNotices((l) => lines.push(l)));
  const restart = (reason?: "crashed" | "context_size") =>
    stream.publish(
      "daemon",
      daemonStatusLine(RESTARTING, { model: "m", ...(reason ? { reason } : {}) }),
    );
  restart("crashed");
  restart("crashed");
  restart("context_size");
  stream.publish("daemon", daemonStatusLine({ status: "ready" }, { model: "m" }));
  restart("context_size");
  restart();
  assert.deepEqual(lines, [
    "m: runner restarting (crashed)",
    "m: runner restarting (context_size)",
    "m: runner restarting (context_size)",
    "m: runner restarting",
  ]);
});

Deno.test("restartNotices: a model on a backend plugin names the plugin", () => {
  const stream = new EventStream();
  const lines: string[] = [];
  stream.listen(
    restartNotices((l) => lines.push(l), (model) => model === "p" ? "openai_backend" : undefined),
  );
  for (const model of ["p", "m"]) {
    stream.publish("daemon", daemonStatusLine(RESTARTING, { model, reason: "crashed" }));
  }
  assert.deepEqual(lines, [
    "p: backend plugin openai_backend restarting (crashed)",
    "m: runner restarting (crashed)",
  ]);
});

Deno.test("requestEvent + activitySubscriber: the log writes the record it would have been given; prompts stay off the stream unless logged", async () => {
  await withTempDir(async (dir) => {
    const record: ActivityRecord = {
      time: "2026-05-18T10:00:00.000Z",
      request_id: "g1",
      client: 1,
      op: "generate",
      model: "stories260K",
      outcome: "ok",
      prompt: "Once upon a time",
      output: "there was",
      duration_ms: 41,
    };
    assert.equal("prompt" in requestEvent(record, false), false);
    assert.equal("output" in requestEvent(record, false), false);
    assert.equal(requestEvent(record, true).prompt, "Once upon a time");
    for (const logPrompts of [false, true]) {
      const stream = new EventStream();
      const viaStream = await ActivityLog.open(`${dir}/stream-${logPrompts}.ndjson`, { logPrompts });
      const direct = await ActivityLog.open(`${dir}/direct-${logPrompts}.ndjson`, { logPrompts });
      stream.listen(activitySubscriber(viaStream));
      const e = stream.publish("daemon", requestEvent(record, logPrompts));
      assert.deepEqual(Envelope.parse(JSON.parse(JSON.stringify(e))), e);
      direct.write(record);
      await Promise.all([viaStream.close(), direct.close()]);
      assert.equal(
        await Deno.readTextFile(`${dir}/stream-${logPrompts}.ndjson`),
        await Deno.readTextFile(`${dir}/direct-${logPrompts}.ndjson`),
      );
    }
  });
});
