/**
 * `tokenize` through a real `lode serve`: once the model's vocabulary is open
 * in the daemon, tokenize is answered there — proven by stopping the runner
 * (SIGSTOP): tokenize and detokenize (and their refusals) still answer, with
 * the ids the runner gave, and the runner carries on with generation after
 * SIGCONT.
 */
import assert from "node:assert/strict";
import { runnerPids } from "./support/child_pids.ts";
import { FrameClient, terminal, tokenText } from "./support/frame_client.ts";
import { startServe, storeWithStories } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";

const TEXT = "Once upon a time there was";

/**
 * Runs `body` against a `lode serve --model stories260K …args` with a client connected, after one
 * tokenize (its ids returned); the runner's pid is given, and it is continued (SIGCONT) and the daemon
 * stopped (exit 0) whatever `body` does.
 */
async function withDaemon(
  args: string[],
  body: (o: { client: FrameClient; runner: number; expected: unknown; daemonPid: number }) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const daemon = await startServe(dir, store, ["--model", "stories260K", ...args]);
    const client = await FrameClient.connect(daemon.socket);
    let runner: number | undefined;
    try {
      await client.write({ id: "first", op: "tokenize", model: "stories260K", text: TEXT });
      const first = await client.frames("first");
      assert.equal(terminal(first).type, "done", JSON.stringify(first));
      [runner] = await runnerPids(daemon.child.pid);
      assert.ok(runner, "the model runs in a runner process");
      const expected = first.find((f) => f.type === "tokens")!.tokens;
      await body({ client, runner, expected, daemonPid: daemon.child.pid });
    } finally {
      if (runner !== undefined) {
        try {
          Deno.kill(runner, "SIGCONT");
        } catch { /* gone */ }
      }
      client.conn.close();
      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
    }
  }, { prefix: "lode-serve-tokenize-" });
}

const tokensOf = (frames: { type: string; tokens?: unknown }[]) =>
  frames.find((f) => f.type === "tokens")?.tokens;
const mappedLibraries = (pid: number) => Deno.readTextFile(`/proc/${pid}/maps`);

Deno.test("lode serve: tokenize is answered in the daemon while the runner is stopped; the same ids; generation goes on", async () => {
  await withDaemon([], async ({ client, runner, expected, daemonPid }) => {
    Deno.kill(runner, "SIGSTOP");
    // Requests sent before the vocabulary opened (~1 s after the load) wait in the stopped runner;
    // one sent after it is answered by the daemon at once.
    let answered: unknown;
    for (let i = 0; i < 100 && answered === undefined; i++) {
      await client.write({ id: `t${i}`, op: "tokenize", model: "stories260K", text: TEXT });
      answered = await client.frames(`t${i}`, 300).then(tokensOf).catch(() => undefined);
    }
    assert.deepEqual(answered, expected, "tokenize answered while the runner was stopped");
    await client.write({ id: "d", op: "detokenize", model: "stories260K", tokens: expected });
    assert.deepEqual((await client.frames("d", 2000)).map((f) => f.type === "text" ? f.text : f.type), [
      TEXT,
      "done",
    ]);
    await client.write({ id: "bad", op: "detokenize", model: "stories260K", tokens: [1, 1_000_000] });
    const bad = terminal(await client.frames("bad", 2000));
    assert.equal(bad.code, "BAD_REQUEST", JSON.stringify(bad));
    assert.equal((bad.details as Record<string, unknown>).field, "tokens.1");
    assert.match(
      await mappedLibraries(daemonPid),
      /llama-addon\.node/,
      "node-llama-cpp is loaded in the daemon",
    );
    Deno.kill(runner, "SIGCONT");

    await client.write({
      id: "g",
      op: "generate",
      model: "stories260K",
      prompt: "Once upon a time",
      max_tokens: 8,
    });
    const generated = await client.frames("g");
    assert.equal(terminal(generated).type, "done", JSON.stringify(generated));
    assert.ok(tokenText(generated).length > 0);
  });
});

Deno.test("lode serve --tokenize-in-runner: tokenize goes to the runner (a stopped runner holds it), the daemon stays without llama.cpp", async () => {
  await withDaemon(["--tokenize-in-runner"], async ({ client, runner, expected, daemonPid }) => {
    Deno.kill(runner, "SIGSTOP");
    await client.write({ id: "held", op: "tokenize", model: "stories260K", text: TEXT });
    // Held for longer than a vocabulary takes to open: the daemon neither answers nor loads llama.cpp.
    await assert.rejects(client.frames("held", 2000), /no terminal frame/);
    assert.doesNotMatch(
      await mappedLibraries(daemonPid),
      /libllama|llama-addon/,
      "no llama.cpp in the daemon",
    );
    Deno.kill(runner, "SIGCONT");
    assert.deepEqual(tokensOf(await client.frames("held")), expected);
  });
});
