/**
 * `lode serve` end to end with what only a whole daemon shows: the OpenAI-compatible front (`--http`) used by
 * the official `openai` client, and a runner killed with SIGKILL — the daemon survives, says so on the admin
 * stream, and the next request loads the model again in a new runner.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { processAlive, runnerPids } from "./support/child_pids.ts";
import { runLode } from "./support/lode_cli.ts";
import { startServe, storeWithStories, STORIES_FILE, waitForSocket } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { LineReader } from "./support/unix_socket.ts";
import { freePort } from "./support/free_port.ts";

const PROMPT = "Once upon a time";

/** A port nothing listens on right now. */

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("lode serve --http: the openai client completes and streams a chat through the daemon's runner", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const port = freePort();
    const daemon = await startServe(dir, store, ["--model", "stories260K", "--http", `127.0.0.1:${port}`]);
    try {
      const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "unused", maxRetries: 0 });
      const models = await until("the HTTP front", () => client.models.list().then((page) => page.data));
      assert.ok(models.some((m) => m.id === "stories260K"), JSON.stringify(models));
      const completion = await client.completions.create({
        model: "stories260K",
        prompt: PROMPT,
        max_tokens: 40,
        temperature: 0,
      });
      const inProcess = await runLode(
        ["run", `file:${STORIES_FILE}`, PROMPT, "-t", "0", "-n", "40", "--threads", "1", "--no-daemon"],
        { store },
      );
      assert.equal(inProcess.code, 0, inProcess.stderr);
      assert.equal(completion.choices[0]!.text + "\n", inProcess.stdout);
      assert.equal(completion.choices[0]!.finish_reason, "length");

      const stream = await client.chat.completions.create({
        model: "stories260K",
        messages: [{ role: "user", content: "Tell me a story" }],
        max_tokens: 24,
        temperature: 0,
        stream: true,
      });
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      assert.ok(text.length > 0);
    } finally {
      const end = await daemon.stop();
      assert.equal(end.code, 0, end.stderr);
    }
    await assert.rejects(fetch(`http://127.0.0.1:${port}/v1/models`)); // the front closed with the daemon
  }, { prefix: "lode-serve-http-" });
});

Deno.test("kill -9 of a runner: the daemon survives, says restarting once, the next request reloads", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const daemon = await startServe(dir, store, ["--model", "stories260K"]);
    try {
      await waitForSocket(daemon.adminSocket);
      const [runner] = await until("the runner", async () => {
        const pids = await runnerPids(daemon.child.pid);
        return pids.length === 1 ? pids : undefined;
      });
      const admin = await Deno.connect({ transport: "unix", path: daemon.adminSocket });
      const reader = new LineReader(admin);
      Deno.kill(runner!, "SIGKILL");
      let frame: Record<string, unknown>;
      do frame = JSON.parse((await reader.next())!); while (frame.status !== "restarting");
      assert.equal(frame.model, "stories260K");
      admin.close();

      const run = ["run", "stories260K", PROMPT, "-t", "0", "-n", "40", "--socket", daemon.socket];
      const again = await runLode(run, { store });
      assert.equal(again.code, 0, again.stderr);
      const direct = await runLode([...run.slice(0, -2), "--no-daemon", "--threads", "1"], { store });
      assert.equal(again.stdout, direct.stdout);
      const now = await runnerPids(daemon.child.pid);
      assert.equal(now.length, 1);
      assert.notEqual(now[0], runner);
      assert.ok(!(await processAlive(runner!)));
      assert.ok(await processAlive(daemon.child.pid), "the daemon is still up");
    } catch (e) {
      await daemon.stop();
      throw e;
    }
    const end = await daemon.stop();
    assert.equal(end.code, 0, end.stderr);
    // One crash, one notice (not one per phase of the reload).
    assert.deepEqual(end.stderr.match(/runner restarting.*/g), ["runner restarting (crashed)"], end.stderr);
  }, { prefix: "lode-serve-kill-" });
});
