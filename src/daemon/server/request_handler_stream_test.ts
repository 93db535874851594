import assert from "node:assert/strict";
import type { GenerateResult, Session } from "../../inference/backend.ts";
import { createGeneration } from "../../inference/generation.ts";
import { AdmissionQueue } from "./admission_queue.ts";
import { InferenceServer } from "./inference_server.ts";
import type { Router } from "../router/router.ts";
import { listenUnixSocket } from "../wire/socket_path.ts";

const BURSTS = 6;
const PER_BURST = 10;

/** A session whose generations emit bursts of chunks (as a runner's `chunks` messages do), a pause apart. */
function burstySession(): Session {
  const generate = () =>
    createGeneration(async (emit): Promise<GenerateResult> => {
      let text = "";
      for (let b = 0; b < BURSTS; b++) {
        await new Promise((r) => setTimeout(r, 15));
        for (let i = 0; i < PER_BURST; i++) {
          const chunk = ` t${b * PER_BURST + i}`;
          text += chunk;
          emit(chunk);
        }
      }
      const usage = {
        promptTokens: 1,
        generatedTokens: BURSTS * PER_BURST,
        loadMs: 0,
        timeToFirstTokenMs: 0,
        totalMs: 0,
        tokensPerSecond: 0,
      };
      return { text, stopReason: "max_tokens", usage };
    });
  return { generate, chat: generate } as unknown as Session;
}

function routerOf(session: Session): Router {
  return {
    acquire: (model) => Promise.resolve({ model, session, release: () => {} }),
    onStatus: () => () => {},
  } as Partial<Router> as Router;
}

/** The server's end of every accepted connection, counting its writes (each one write syscall). */
function counted(conn: Deno.Conn, writes: { count: number }): Deno.Conn {
  return new Proxy(conn, {
    get(target, key) {
      if (key === "write") {
        return (bytes: Uint8Array) => {
          writes.count++;
          return target.write(bytes);
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("generate: the token frames of one burst leave in one write, one frame per text, in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-stream-" });
  const socket = await listenUnixSocket(`${dir}/lode.sock`);
  const server = new InferenceServer({
    router: routerOf(burstySession()),
    queue: new AdmissionQueue({ maxQueue: 4, parallel: 1 }),
  });
  const writes = { count: 0 };
  const accepting = socket.listener.accept().then((conn) => server.attach(counted(conn, writes)));
  const client = await Deno.connect({ transport: "unix", path: socket.path });
  try {
    await accepting;
    const request = { id: "g", op: "generate", model: "m", prompt: "p", max_tokens: BURSTS * PER_BURST };
    await client.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
    const frames: { type: string; text?: string }[] = [];
    const buffer = new Uint8Array(64 * 1024);
    const decoder = new TextDecoder();
    let pending = "";
    while (frames.at(-1)?.type !== "done" && frames.at(-1)?.type !== "error") {
      const n = await client.read(buffer);
      assert.ok(n !== null, "the server closed the connection");
      const lines = (pending + decoder.decode(buffer.subarray(0, n), { stream: true })).split("\n");
      pending = lines.pop()!;
      for (const line of lines) frames.push(JSON.parse(line));
    }
    const tokens = frames.filter((f) => f.type === "token");
    assert.deepEqual(
      tokens.map((f) => f.text),
      Array.from({ length: BURSTS * PER_BURST }, (_, i) => ` t${i}`),
      "one token frame per text, in order",
    );
    assert.deepEqual(frames.map((f) => f.type), [...tokens.map(() => "token"), "done"]);
    // One write per burst (the `done` frame may take one more); a write per frame would be 61.
    assert.ok(writes.count <= BURSTS + 1, `${writes.count} writes for ${BURSTS} bursts`);
  } finally {
    client.close();
    await server.drain({ graceMs: 0 });
    await server.close({ graceMs: 100 });
    await socket.close();
    await Deno.remove(dir, { recursive: true });
  }
});
