/**
 * `lode serve --parallel 2`: the model is loaded with two sequences of one context, each with the context a
 * request gets alone (`--ctx-size`), so two requests admitted at once decode together: their token streams
 * overlap (each one's first token arrives before the other's last), a prompt near the per-request limit is
 * accepted on both at once, and a batch run by the daemon with `--parallel 4` runs two requests at once and
 * answers every `custom_id` once.
 * @module
 */
import assert from "node:assert/strict";
import { type Frame, FrameClient } from "./support/frame_client.ts";
import { runLode } from "./support/lode_cli.ts";
import { startServe, storeWithStories } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";

const CONTEXT = 256;

/** Position in `all` of the first frame of request `id` of type `type`. */
function first(all: Frame[], id: string, type: string): number {
  const at = all.findIndex((f) => f.id === id && f.type === type);
  assert.ok(at >= 0, `no ${type} frame for ${id}: ${JSON.stringify(all.filter((f) => f.id === id))}`);
  return at;
}

/** Position in `all` of the last frame of request `id` of type `type`. */
function last(all: Frame[], id: string, type: string): number {
  return all.findLastIndex((f) => f.id === id && f.type === type);
}

/** A prompt of at least `min` tokens (and at most `min + 8`), measured with the daemon's tokenize. */
async function promptOf(client: FrameClient, min: number): Promise<string> {
  const words = ["Once", "upon", "a", "time", "there", "was", "a", "little", "dog"];
  let text = "";
  for (let i = 0;; i++) {
    text += (i === 0 ? "" : " ") + words[i % words.length];
    if (i % 8 !== 7) continue;
    const id = `t${i}`;
    await client.write({ id, op: "tokenize", model: "stories260K", text });
    const frames = await client.frames(id);
    const tokens = frames.find((f) => f.type === "tokens")?.tokens as number[];
    if (tokens.length >= min) return text;
  }
}

Deno.test("lode serve --parallel 2: two requests decode together, each with its full context; a batch runs two at once", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const serve = await startServe(dir, store, ["--parallel", "2", "--ctx-size", String(CONTEXT)]);
    const client = await FrameClient.connect(serve.socket);
    try {
      // Both streams at once: each request's first token comes before the other one's last.
      const generate = (id: string, prompt: string) =>
        client.write({ id, op: "generate", model: "stories260K", prompt, max_tokens: 150, temperature: 0 });
      await generate("a", "Once upon a time");
      await generate("b", "Lily saw a dog");
      const [a, b] = await Promise.all([client.frames("a"), client.frames("b")]);
      for (const frames of [a, b]) assert.equal(frames.at(-1)!.type, "done", JSON.stringify(frames.at(-1)));
      assert.ok(!b.some((f) => f.type === "queued"), "the second request is admitted at once");
      const all = client.all;
      // One at a time, every token of one would come before the other's first.
      assert.ok(first(all, "b", "token") < last(all, "a", "token"), "b streams while a runs");
      assert.ok(first(all, "a", "token") < last(all, "b", "token"), "a streams while b runs");

      // Each sequence has the context a request gets alone: the model lists it, and a prompt near it fits twice.
      await client.write({ id: "m", op: "models" });
      const listed = (await client.frames("m")).find((f) => f.type === "models")!.models as {
        name: string;
        context_size?: number;
      }[];
      assert.equal(listed.find((m) => m.name === "stories260K")?.context_size, CONTEXT);
      const long = await promptOf(client, CONTEXT - 40);
      const near = (id: string) =>
        client.write({
          id,
          op: "generate",
          model: "stories260K",
          prompt: long,
          max_tokens: 8,
          temperature: 0,
        });
      await near("l1");
      await near("l2");
      for (const frames of await Promise.all([client.frames("l1"), client.frames("l2")])) {
        const end = frames.at(-1)!;
        assert.equal(end.type, "done", JSON.stringify(end));
        assert.ok((end.usage as { prompt_tokens: number }).prompt_tokens > CONTEXT / 2);
      }

      // A batch with --parallel 4 through this daemon: two requests at once (the daemon's --parallel), each once.
      const work = `${dir}/work`;
      await Deno.mkdir(work);
      const lines = Array.from({ length: 12 }, (_, i) =>
        JSON.stringify({
          custom_id: `req-${i}`,
          method: "POST",
          url: "/v1/chat/completions",
          body: { messages: [{ role: "user", content: `Story ${i}` }], max_tokens: 24, temperature: 0 },
        }));
      await Deno.writeTextFile(`${work}/in.jsonl`, lines.join("\n") + "\n");
      const r = await runLode(
        [
          "batch",
          "in.jsonl",
          "-m",
          "stories260K",
          "-o",
          "out.jsonl",
          "--parallel",
          "4",
          "--socket",
          serve.socket,
          "--json",
        ],
        { store, cwd: work },
      );
      assert.equal(r.code, 0, r.stderr);
      const record = r.events.find((e) => e.event === "job") as {
        daemon_socket?: string;
        state: string;
        result?: { parallel: number; succeeded: number };
      };
      assert.equal(record.state, "succeeded");
      assert.ok(record.daemon_socket, "run by the daemon");
      assert.equal(record.result?.parallel, 2, "min(the batch's 4, the daemon's --parallel 2)");
      const out = (await Deno.readTextFile(`${work}/out.jsonl`)).split("\n").filter((l) => l !== "");
      const ids = out.map((l) => JSON.parse(l).custom_id).sort();
      assert.deepEqual(ids, lines.map((_, i) => `req-${i}`).sort(), "every custom_id once");
    } finally {
      client.close();
      await serve.stop();
    }
  });
});
