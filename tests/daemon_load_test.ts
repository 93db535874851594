/**
 * A bounded load test of a real `lode serve` (runner process, stories260K):
 * 200 clients at once, each on its own connection with a mixed op and a
 * pipelined `health`. Every request gets exactly one terminal frame, every
 * frame a client reads carries one of its own ids, answers are the ones the
 * model gives alone, and `QUEUE_FULL` comes only beyond the bound.
 */
import assert from "node:assert/strict";
import { type Frame, FrameClient, terminal, tokenText } from "./support/frame_client.ts";
import { startServe, storeWithStories } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";

const CLIENTS = 200;
const STORY =
  ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";
const OPS = ["health", "tokenize", "generate", "embed", "models"] as const;

function request(i: number): Record<string, unknown> {
  const id = `r${i}`;
  switch (OPS[i % OPS.length]!) {
    case "health":
      return { id, op: "health" };
    case "tokenize":
      return { id, op: "tokenize", model: "stories260K", text: "Once upon a time" };
    case "generate":
      return {
        id,
        op: "generate",
        model: "stories260K",
        prompt: "Once upon a time",
        max_tokens: 16,
        temperature: 0,
      };
    case "embed":
      return { id, op: "embed", model: "stories260K", input: ["a red ball"] };
    case "models":
      return { id, op: "models" };
  }
}

async function load(socket: string): Promise<{ op: string; frames: Frame[]; all: Frame[] }[]> {
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => FrameClient.connect(socket)));
  try {
    return await Promise.all(clients.map(async (c, i) => {
      const body = request(i);
      await c.write(JSON.stringify(body) + "\n" + JSON.stringify({ id: `h${i}`, op: "health" }) + "\n");
      const [frames, health] = await Promise.all([c.frames(`r${i}`, 25_000), c.frames(`h${i}`, 25_000)]);
      assert.equal(terminal(health).type, "done");
      return { op: body.op as string, frames, all: c.all };
    }));
  } finally {
    for (const c of clients) c.close();
    await Promise.all(clients.map((c) => c.ended));
  }
}

function check(results: Awaited<ReturnType<typeof load>>, bound: { maxQueue: number; parallel: number }) {
  let refused = 0;
  const queuedOps = results.filter((r) => r.op === "generate" || r.op === "embed").length;
  results.forEach(({ op, frames, all }, i) => {
    // Nothing lost, nothing mixed up: only this client's two ids, one terminal frame each.
    assert.ok(all.every((f) => f.id === `r${i}` || f.id === `h${i}`), JSON.stringify(all));
    assert.equal(frames.filter((f) => f.type === "done" || f.type === "error").length, 1);
    const end = terminal(frames);
    if (end.type === "error") {
      assert.equal(end.code, "QUEUE_FULL", `${op}: ${JSON.stringify(end)}`);
      assert.ok(op === "generate" || op === "embed", op);
      assert.deepEqual(frames.length, 1, "QUEUE_FULL comes at once, before any queued frame");
      refused++;
      return;
    }
    for (const f of frames.filter((f) => f.type === "queued")) {
      assert.ok((f.position as number) <= bound.maxQueue);
    }
    if (op === "generate") {
      const text = tokenText(frames);
      assert.ok(text.length > 0 && STORY.startsWith(text), text);
      assert.equal((end.usage as Record<string, number>).completion_tokens, 16);
    }
    if (op === "tokenize") assert.deepEqual(frames[0]!.tokens, results[1]!.frames[0]!.tokens);
    if (op === "embed") {
      const answer = frames.find((f) => f.type === "embeddings")!;
      assert.equal((answer.embeddings as number[][]).length, 1);
    }
    if (op === "models") assert.equal((frames[0]!.models as { name: string }[])[0]!.name, "stories260K");
  });
  assert.ok(
    refused <= Math.max(0, queuedOps - bound.maxQueue - bound.parallel),
    `${refused} refused of ${queuedOps}`,
  );
  return refused;
}

Deno.test("200 concurrent clients, mixed ops: no lost or mixed-up answers; QUEUE_FULL only beyond the bound", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    for (const maxQueue of [256, 8]) {
      const daemon = await startServe(dir, store, [
        "--max-queue",
        String(maxQueue),
        "--model",
        "stories260K",
      ]);
      try {
        const started = performance.now();
        const refused = check(await load(daemon.socket), { maxQueue, parallel: 1 });
        if (maxQueue === 256) assert.equal(refused, 0);
        console.log(
          `--max-queue ${maxQueue}: ${CLIENTS} clients in ${Math.round(performance.now() - started)} ms, ` +
            `${refused} refused with QUEUE_FULL`,
        );
      } finally {
        assert.equal((await daemon.stop()).code, 0);
      }
    }
  });
});
