/**
 * DaemonClient against a peer that breaks protocol 1: a real Unix socket whose server answers `load`
 * with a `loaded` frame lacking `capabilities` (tests/serve_test.ts runs the client against the real
 * daemon).
 */
import assert from "node:assert/strict";
import type { LodeError } from "../../errors.ts";
import { DaemonClient } from "./client.ts";
import { listenUnixSocket } from "./socket_path.ts";
import { NdjsonConnection } from "./ndjson_connection.ts";
import { loadedFrame } from "../../../tests/support/loaded_frame.ts";

function withoutCapabilities(model: string) {
  const { id: _, capabilities: __, ...frame } = loadedFrame("", model);
  return frame;
}

/** A server answering every request with `answer(request)` (frames without the id, which is added). */
async function withPeer(
  answer: (request: Record<string, unknown>) => Record<string, unknown>[],
  body: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-client-" });
  const socket = await listenUnixSocket(`${dir}/lode.sock`);
  const conns: NdjsonConnection[] = [];
  const serving = (async () => {
    for await (const raw of socket.listener) {
      const conn = new NdjsonConnection(raw);
      conns.push(conn);
      void (async () => {
        for await (const item of conn.lines()) {
          if (item.type !== "line") continue;
          const request = JSON.parse(new TextDecoder().decode(item.bytes));
          for (const frame of answer(request)) await conn.send({ id: request.id, ...frame });
        }
      })();
    }
  })().catch(() => {});
  try {
    await body(socket.path);
  } finally {
    for (const c of conns) c.close();
    await socket.close();
    await serving;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("DaemonClient: a loaded frame without capabilities fails the load, naming the frame and the field (no invented capabilities)", async () => {
  await withPeer(
    (r) =>
      r.op === "load"
        ? [withoutCapabilities(r.model as string), { type: "done" }]
        : [{ type: "future_frame", x: 1 }, { type: "health", protocol: 1, version: "x", status: "ready" }, {
          type: "done",
        }],
    async (path) => {
      const client = await DaemonClient.connect(path);
      try {
        await assert.rejects(client.session("m"), (e: LodeError) => {
          assert.equal(e.code, "INTERNAL");
          assert.equal(
            e.message,
            `the daemon's "loaded" frame (protocol 1) is invalid at capabilities: missing (expected an object)`,
          );
          assert.match(e.hint, /restart `lode serve` with this lode, or run with --no-daemon/);
          assert.deepEqual(e.details, {
            frame_type: "loaded",
            field: "capabilities",
            issues: [{
              path: "capabilities",
              expected: "an object",
              received: "nothing",
              message: "missing (expected an object)",
            }],
          });
          return true;
        });
        // A frame type this client does not know (a newer daemon's) is ignored; the request goes on.
        assert.equal((await client.health()).status, "ready");
      } finally {
        client.close();
      }
    },
  );
});
