import assert from "node:assert/strict";
import { isLodeError } from "../../errors.ts";
import { LocalRouter, STORIES } from "../../../tests/support/local_router.ts";
import { FrameClient, terminal, tokenText } from "../../../tests/support/frame_client.ts";
import { LineReader } from "../../../tests/support/unix_socket.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import type { ModelEntry } from "../wire/protocol.ts";
import { startDaemon } from "./daemon.ts";
import { ActivityLog } from "./activity_log.ts";
import type { Envelope } from "../../events/envelope.ts";
import { EventStream } from "../../events/event_stream.ts";

/** A LocalRouter whose loads wait for `gate` (so a test can subscribe before the preload starts). */
class GatedRouter extends LocalRouter {
  gate = Promise.withResolvers<void>();
  override async load(model: string, options: { signal?: AbortSignal } = {}): Promise<ModelEntry> {
    await this.gate.promise;
    return await super.load(model, options);
  }
}

async function waitForFile(path: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    try {
      await Deno.lstat(path);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  throw new Error(`${path} never appeared`);
}

Deno.test("lifecycle: starting → loading_model phases → capabilities → ready, one daemon per socket, drain, files removed", async () => {
  await withTempDir(async (dir) => {
    const socket = `${dir}/lode.sock`;
    const adminSocket = `${dir}/admin.sock`;
    const router = new GatedRouter({ models: { stories260K: STORIES }, tokenDelayMs: 5 });
    const log = await ActivityLog.open(`${dir}/activity.ndjson`);
    const starting = startDaemon({
      socket,
      adminSocket,
      router,
      preload: ["stories260K"],
      graceMs: 10_000,
      log,
    });
    await waitForFile(adminSocket);
    const admin = await Deno.connect({ transport: "unix", path: adminSocket });
    const reader = new LineReader(admin);
    assert.deepEqual(JSON.parse((await reader.next())!), { id: "admin", type: "status", status: "starting" });
    router.gate.resolve();
    const daemon = await starting;
    const frames: Record<string, unknown>[] = [];
    while (frames.at(-1)?.status !== "ready") frames.push(JSON.parse((await reader.next())!));
    assert.deepEqual(frames.map((f) => f.phase ?? f.status), ["mmap", "kv_cache", "capabilities", "ready"]);
    assert.equal(frames[0]!.model, "stories260K");
    assert.equal(frames.at(-1)!.model, undefined, "the daemon's own ready");

    // A second daemon on the same socket loses, naming the first one's pid.
    const second = await startDaemon({ socket, adminSocket, router: new LocalRouter({ models: {} }) })
      .catch((e) => e);
    assert.ok(isLodeError(second, "DAEMON_RUNNING"), String(second));
    assert.equal(second.details.pid, Deno.pid);

    const c = await FrameClient.connect(socket);
    await c.write({
      id: "g",
      op: "generate",
      model: "stories260K",
      prompt: "Once upon a time",
      max_tokens: 60,
    });
    await c.until(() => c.sofar("g").some((f) => f.type === "token"));
    const stopping = daemon.stop();
    await c.write({ id: "late", op: "tokenize", model: "stories260K", text: "x" });
    assert.equal(terminal(await c.frames("late")).code, "DRAINING");
    const g = await c.frames("g");
    assert.equal(terminal(g).type, "done");
    assert.ok(tokenText(g).length > 0);
    assert.equal(await stopping, 0);
    await daemon.stopped;
    // The admin stream said draining, then ended.
    const rest = (await reader.rest()).map((l) => JSON.parse(l).status);
    assert.deepEqual(rest, ["draining"]);
    admin.close();
    c.close();
    await c.ended;
    for (const f of [socket, adminSocket]) await assert.rejects(Deno.lstat(f), Deno.errors.NotFound);
    assert.equal(await Deno.readTextFile(`${socket}.lock`), "", "the lock record is cleared");
    const records = (await Deno.readTextFile(`${dir}/activity.ndjson`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(records.map((r) => [r.request_id, r.outcome, r.code]), [["late", "error", "DRAINING"], [
      "g",
      "ok",
      undefined,
    ]]);

    // The lock is free again.
    const again = await startDaemon({ socket, adminSocket, router: new LocalRouter({ models: {} }) });
    await again.stop();
  });
});

Deno.test("a failing preload undoes the start: no sockets left, lock free, the error is thrown", async () => {
  await withTempDir(async (dir) => {
    const socket = `${dir}/lode.sock`;
    const adminSocket = `${dir}/admin.sock`;
    const router = new LocalRouter({ models: {} });
    const e = await startDaemon({ socket, adminSocket, router, preload: ["missing"] }).catch((e) => e);
    assert.ok(isLodeError(e, "MODEL_NOT_FOUND"), String(e));
    for (const f of [socket, adminSocket]) await assert.rejects(Deno.lstat(f), Deno.errors.NotFound);
    const again = await startDaemon({ socket, adminSocket, router: new LocalRouter({ models: {} }) });
    await again.stop();
  });
});

Deno.test("the daemon's one stream: its status lines and finished requests are published once; the admin frames and the log records are what its listeners made of them; a subscription never read does not hold the daemon", async () => {
  await withTempDir(async (dir) => {
    const socket = `${dir}/lode.sock`;
    const adminSocket = `${dir}/admin.sock`;
    const router = new LocalRouter({ models: { stories260K: STORIES } });
    const log = await ActivityLog.open(`${dir}/activity.ndjson`);
    const events = new EventStream();
    const seen: Envelope[] = [];
    events.listen((e) => seen.push(e));
    const stuck = events.subscribe({ bufferSize: 1 });
    const daemon = await startDaemon({ socket, adminSocket, router, preload: ["stories260K"], log, events });
    assert.equal(daemon.events, events);
    const admin = await Deno.connect({ transport: "unix", path: adminSocket });
    const reader = new LineReader(admin);
    const c = await FrameClient.connect(socket);
    await c.write({ id: "t", op: "tokenize", model: "stories260K", text: "Once upon a time" });
    assert.equal(terminal(await c.frames("t")).type, "done");
    await daemon.stop();
    c.close();
    await c.ended;
    const frames = (await reader.rest()).map((l) => JSON.parse(l));
    admin.close();

    assert.deepEqual(new Set(seen.map((e) => e.source)), new Set(["daemon"]));
    assert.deepEqual(seen.map((e) => e.seq), seen.map((_, i) => i + 1), "each published once, in order");
    const statuses = seen.flatMap((e) =>
      e.source === "daemon" && e.event.event === "status" ? [e.event] : []
    );
    assert.deepEqual(
      statuses.map((s) => "phase" in s ? s.phase : s.status),
      ["starting", "mmap", "kv_cache", "capabilities", "ready", "ready", "draining"],
    );
    assert.equal(statuses[5]!.model, undefined, "the daemon's own ready");
    // A late admin subscriber: capabilities, the snapshot (ready), then live (draining).
    assert.deepEqual(frames.map((f) => f.status), ["capabilities", "ready", "draining"]);
    const requests = seen.flatMap((e) =>
      e.source === "daemon" && e.event.event === "request" ? [e.event] : []
    );
    const records = (await Deno.readTextFile(`${dir}/activity.ndjson`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(records, requests.map(({ event: _tag, ...record }) => record));
    assert.equal(records[0]!.request_id, "t");
    assert.equal(stuck.dropped, seen.length - 1, "the stuck subscription held one and counted the rest");
  });
});
