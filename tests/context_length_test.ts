/**
 * An input longer than the context is refused before anything is generated, with
 * `CONTEXT_LENGTH_EXCEEDED` naming the prompt's tokens and the context's size: `lode run`, `lode chat` and
 * `lode embed` in process (exit 2), and a real `lode serve` — an `error` frame on the socket, `lode run`
 * through the daemon, and HTTP 400 `context_length_exceeded` from the OpenAI front with the field in
 * `param`. stories260K's context is its training context, 2048 tokens.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { DoneEvent } from "../src/events/mod.ts";
import { FrameClient, terminal } from "./support/frame_client.ts";
import { runLode } from "./support/lode_cli.ts";
import { startServe, storeWithStories, STORIES_FILE } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";

/** 4003 words of one token each: with the BOS token, a prompt of 4004 tokens. */
const LONG = Array(4003).fill("a").join(" ");
/** 3 MB of text. */
const HUGE = "Once upon a time there was a little girl. ".repeat(75_000);
const MODEL = `file:${STORIES_FILE}`;

function errorEvent(events: Record<string, unknown>[]): { code: string; details: Record<string, unknown> } {
  const error = events.find((e) => e.event === "error");
  assert.ok(error, JSON.stringify(events));
  return error as { code: string; details: Record<string, unknown> };
}

Deno.test("lode run, chat and embed refuse an input longer than the context: exit 2, both numbers named", async () => {
  await withTempDir(async (store) => {
    const run = await runLode(["run", MODEL, LONG, "--no-daemon", "--threads", "1"], { store });
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, "", "nothing was generated");
    assert.match(
      run.stderr,
      /^error\[CONTEXT_LENGTH_EXCEEDED\]: the prompt is 4004 tokens and the context holds 2048: it needs a context of at least 4005 tokens/m,
    );
    assert.match(run.stderr, /--ctx-size/);

    const huge = await runLode(["run", MODEL, "--no-daemon", "--json", "--threads", "1"], {
      store,
      input: HUGE,
    });
    assert.equal(huge.code, 2, huge.stderr);
    const error = errorEvent(huge.events);
    assert.equal(error.code, "CONTEXT_LENGTH_EXCEEDED");
    assert.equal(error.details.context_size, 2048);
    assert.equal(error.details.exact, false, "3 MB are refused from their bytes, never tokenized");
    assert.ok(Number(error.details.prompt_tokens) > 2048);
    assert.ok(!huge.events.some((e) => e.event === "token" || e.event === "done"));

    // The context is the model's, or --ctx-size: 600 words fit 2048 tokens, not 512.
    const words = Array(600).fill("a").join(" ");
    const small = await runLode(["run", MODEL, words, "--no-daemon", "--ctx-size", "512", "-n", "3"], {
      store,
    });
    assert.equal(small.code, 2, small.stderr);
    assert.match(small.stderr, /the prompt is 601 tokens and the context holds 512/);
    const fits = await runLode(["run", MODEL, words, "--no-daemon", "-n", "3", "--json"], { store });
    assert.equal(fits.code, 0, fits.stderr);
    assert.equal(DoneEvent.parse(fits.events.at(-1)).usage.promptTokens, 601);

    const chat = await runLode(["chat", MODEL, "--no-daemon"], { store, input: `Hi\n${LONG}\nAgain\n` });
    assert.equal(chat.code, 2, chat.stderr);
    assert.match(
      chat.stderr,
      /error\[CONTEXT_LENGTH_EXCEEDED\]: the conversation \(its chat template applied\) is \d+ tokens and the context holds 2048/,
    );

    const embed = await runLode(["embed", MODEL, "short", LONG, "--no-daemon", "--json"], { store });
    assert.equal(embed.code, 2, embed.stderr);
    const refused = errorEvent(embed.events);
    assert.equal(refused.code, "CONTEXT_LENGTH_EXCEEDED");
    assert.deepEqual([refused.details.index, refused.details.context_size], [1, 2048]);
    assert.ok(!embed.events.some((e) => e.event === "embedding"), "no text was embedded");
  });
});

Deno.test("lode serve: an error frame on the socket, exit 2 through the daemon, HTTP 400 context_length_exceeded", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr; // free for the daemon once closed
    listener.close();
    const daemon = await startServe(dir, store, ["--model", "stories260K", "--http", `127.0.0.1:${port}`]);
    const frames = await FrameClient.connect(daemon.socket);
    try {
      await frames.write({ id: "g1", op: "generate", model: "stories260K", prompt: LONG });
      const refused = terminal(await frames.frames("g1"));
      assert.equal(refused.type, "error");
      assert.equal(refused.code, "CONTEXT_LENGTH_EXCEEDED");
      assert.match(String(refused.message), /^the prompt is 4004 tokens and the context holds 2048/);
      const details = refused.details as Record<string, unknown>;
      assert.deepEqual([details.prompt_tokens, details.context_size, details.field], [4004, 2048, "prompt"]);
      await frames.write({ id: "e1", op: "embed", model: "stories260K", input: ["short", LONG] });
      const embedRefused = terminal(await frames.frames("e1"));
      assert.equal(embedRefused.code, "CONTEXT_LENGTH_EXCEEDED");
      assert.deepEqual(
        [
          (embedRefused.details as Record<string, unknown>).field,
          (embedRefused.details as Record<string, unknown>).index,
        ],
        ["input", 1],
      );
      await frames.write({
        id: "g2",
        op: "generate",
        model: "stories260K",
        prompt: "Once upon a time",
        max_tokens: 3,
      });
      assert.equal(terminal(await frames.frames("g2")).type, "done", "the daemon goes on");

      const viaDaemon = await runLode(["run", "stories260K", LONG, "--socket", daemon.socket], { store });
      assert.equal(viaDaemon.code, 2, viaDaemon.stderr);
      assert.match(viaDaemon.stderr, /^error\[CONTEXT_LENGTH_EXCEEDED\]: the prompt is 4004 tokens/m);

      const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "unused", maxRetries: 0 });
      const cases: [string, () => Promise<unknown>][] = [
        ["prompt", () => client.completions.create({ model: "stories260K", prompt: HUGE })],
        [
          "messages",
          () =>
            client.chat.completions.create({
              model: "stories260K",
              messages: [{ role: "user", content: HUGE }],
            }),
        ],
        [
          "messages",
          () =>
            client.chat.completions.create({
              model: "stories260K",
              messages: [{ role: "user", content: LONG }],
              stream: true,
            }),
        ],
        ["input", () => client.embeddings.create({ model: "stories260K", input: ["short", HUGE] })],
      ];
      for (const [param, request] of cases) {
        const e = await request().then(() => assert.fail(`${param}: answered`), (e) => e);
        assert.ok(e instanceof OpenAI.APIError, String(e));
        assert.deepEqual([e.status, e.type, e.code, e.param], [
          400,
          "invalid_request_error",
          "context_length_exceeded",
          param,
        ]);
        assert.match(e.message, /and the context holds 2048/);
      }
      const fine = await client.completions.create({
        model: "stories260K",
        prompt: "Once upon a time",
        max_tokens: 3,
      });
      assert.equal(fine.usage?.completion_tokens, 3);
    } finally {
      frames.close();
      const end = await daemon.stop();
      assert.equal(end.code, 0, end.stderr);
    }
  }, { prefix: "lode-ctx-" });
});
