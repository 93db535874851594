import assert from "node:assert/strict";
import type { StatusEvent } from "../../events/status_event.ts";
import { AdminHub, renderStatusFrame } from "./admin_hub.ts";
import { AdminFrame } from "../wire/protocol.ts";
import { LineReader } from "../../../tests/support/unix_socket.ts";
import { CPU_CAPABILITIES } from "../../../tests/support/loaded_frame.ts";

const CAPS: StatusEvent = { status: "capabilities", ...CPU_CAPABILITIES, backend: "llama.cpp", v2: true };

/** A daemon's bring-up sequence, a reload, and shutdown. */
const TRANSITIONS: StatusEvent[] = [
  { status: "loading_model", phase: "checking_local", path: "/m/blobs/sha256/ab/abcd/data" },
  {
    status: "loading_model",
    phase: "download",
    downloaded_bytes: 0,
    total_bytes: 1185376,
    source_url: "https://h/m",
  },
  {
    status: "loading_model",
    phase: "download",
    downloaded_bytes: 1185376,
    total_bytes: 1185376,
    source_url: "https://h/m",
  },
  { status: "loading_model", phase: "verify", path: "/m/p" },
  { status: "loading_model", phase: "mmap", path: "/m/p" },
  { status: "loading_model", phase: "kv_cache", n_ctx: 512 },
  CAPS,
  { status: "ready" },
  { status: "restarting", phase: "mmap", path: "/m/p" },
  { status: "ready" },
  { status: "draining" },
];

/** A hub serving a real admin socket in a temp dir. */
async function withHub(
  options: ConstructorParameters<typeof AdminHub>[0],
  body: (hub: AdminHub, connect: () => Promise<Deno.UnixConn>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-admin-" });
  const path = `${dir}/admin.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const hub = new AdminHub(options);
  const serving = hub.serve(listener);
  try {
    await body(hub, () => Deno.connect({ transport: "unix", path }));
  } finally {
    listener.close();
    await serving;
    await hub.close({ graceMs: 100 });
    await Deno.remove(dir, { recursive: true });
  }
}

async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const strip = (frame: Record<string, unknown>) => {
  const { id, type, ...event } = frame;
  assert.equal(id, "admin");
  assert.equal(type, "status");
  return event;
};

Deno.test("renderStatusFrame flattens the phase into the admin envelope", () => {
  const line = new TextDecoder().decode(renderStatusFrame(TRANSITIONS[1]!));
  assert.equal(
    line,
    '{"id":"admin","type":"status","status":"loading_model","phase":"download","downloaded_bytes":0,"total_bytes":1185376,"source_url":"https://h/m"}\n',
  );
  AdminFrame.parse(JSON.parse(line));
});

Deno.test("1,000 subscribers over real Unix sockets all see the snapshot and every transition, in order", async () => {
  await withHub({}, async (hub, connect) => {
    const clients = await Promise.all(Array.from({ length: 1000 }, connect));
    await until(() => hub.subscribers === 1000, "1000 subscribers");
    const readers = clients.map((c) => new LineReader(c));
    for (const event of TRANSITIONS) hub.publish(event);
    const expected = [{ status: "starting" }, ...TRANSITIONS];
    await Promise.all(readers.map(async (reader, i) => {
      for (const [n, event] of expected.entries()) {
        const frame = await reader.json();
        AdminFrame.parse(frame);
        assert.deepEqual(strip(frame), event, `subscriber ${i}, frame ${n}`);
      }
    }));
    assert.equal(hub.dropped, 0);
    for (const c of clients) c.close();
  });
});

Deno.test("a late subscriber gets capabilities, then the snapshot, then live events — not the history", async () => {
  await withHub({}, async (hub, connect) => {
    for (const event of TRANSITIONS.slice(0, 8)) hub.publish(event); // … capabilities, ready
    assert.deepEqual(hub.snapshot, { status: "ready" });
    assert.deepEqual(hub.capabilities, CAPS);
    const client = await connect();
    const reader = new LineReader(client);
    assert.deepEqual(strip(await reader.json()), CAPS);
    assert.deepEqual(strip(await reader.json()), { status: "ready" });
    await until(() => hub.subscribers === 1, "the subscriber");
    hub.publish({ status: "draining" });
    assert.deepEqual(strip(await reader.json()), { status: "draining" });
    client.close();
  });
  // Before any capabilities: the snapshot alone.
  await withHub(
    { initial: { status: "loading_model", phase: "kv_cache", n_ctx: 64 } },
    async (_hub, connect) => {
      const client = await connect();
      const reader = new LineReader(client);
      assert.deepEqual(strip(await reader.json()), { status: "loading_model", phase: "kv_cache", n_ctx: 64 });
      client.close();
    },
  );
});

Deno.test("a subscriber that does not read is dropped; the others get every event; writes are ignored", async () => {
  const drops: number[] = [];
  await withHub(
    { bufferFrames: 16, onDrop: (info) => drops.push(info.pendingFrames) },
    async (hub, connect) => {
      const [reading, stuck] = [await connect(), await connect()];
      await until(() => hub.subscribers === 2, "two subscribers");
      const reader = new LineReader(reading);
      await reader.json(); // snapshot
      // Client writes (even garbage and a huge line) change nothing.
      await reading.write(new TextEncoder().encode(`garbage\n{"op":"health"}\n${"x".repeat(100_000)}\n`));
      const big = "u".repeat(16 * 1024);
      const events = 400;
      for (let i = 0; i < events; i++) {
        hub.publish({
          status: "loading_model",
          phase: "download",
          downloaded_bytes: i,
          total_bytes: null,
          source_url: big,
        });
        // The reading subscriber keeps up; the stuck one never reads.
        const frame = strip(await reader.json());
        assert.equal(frame.downloaded_bytes, i);
      }
      assert.equal(hub.dropped, 1);
      assert.equal(hub.subscribers, 1);
      assert.equal(drops.length, 1);
      assert.ok(drops[0]! > 16);
      // The dropped one sees what fitted in its socket buffer, then the end of the stream.
      const rest = await new LineReader(stuck).rest();
      assert.ok(rest.length < events, `${rest.length} lines`);
      const whole = rest.filter((l) => l.endsWith("}"));
      assert.ok(whole.length >= 1);
      stuck.close();
      reading.close();
    },
  );
});

Deno.test("close writes what was published, then ends every subscription; later connections are closed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-admin-" });
  const path = `${dir}/admin.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const hub = new AdminHub();
  const serving = hub.serve(listener);
  try {
    const client = await Deno.connect({ transport: "unix", path });
    await until(() => hub.subscribers === 1, "the subscriber");
    hub.publish({ status: "draining" });
    await hub.close();
    const lines = await new LineReader(client).rest();
    assert.deepEqual(lines.map((l) => strip(JSON.parse(l))), [{ status: "starting" }, {
      status: "draining",
    }]);
    client.close();
    const late = await Deno.connect({ transport: "unix", path });
    assert.deepEqual(await new LineReader(late).rest(), []);
    late.close();
  } finally {
    listener.close();
    await serving;
    await Deno.remove(dir, { recursive: true });
  }
});
