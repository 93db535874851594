/**
 * `lode serve` as a real process (runner processes, the real model), and its
 * clients: `lode status`, `lode run` / `embed` through the daemon.
 */
import assert from "node:assert/strict";
import { runLode } from "./support/lode_cli.ts";
import { FrameClient, terminal, tokenText } from "./support/frame_client.ts";
import { startServe, storeWithStories, STORIES_FILE, waitForSocket } from "./support/serve_process.ts";
import { runnerPids } from "./support/child_pids.ts";
import { DaemonClient } from "../src/daemon/wire/client.ts";
import type { LodeError } from "../src/errors.ts";
import { createLlamaCppBackend } from "../src/inference/mod.ts";
import { LineReader } from "./support/unix_socket.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { StatusLine } from "../src/events/mod.ts";

const STORY =
  ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";

Deno.test("lode serve --model: the admin stream shows starting → loading phases → capabilities → ready; status; run through the daemon", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const log = `${dir}/activity.ndjson`;
    const daemon = await startServe(dir, store, ["--model", "stories260K", "--log", log], { wait: false });
    try {
      await waitForSocket(daemon.adminSocket);
      const admin = await Deno.connect({ transport: "unix", path: daemon.adminSocket });
      const reader = new LineReader(admin);
      const frames: Record<string, unknown>[] = [];
      while (frames.at(-1)?.status !== "ready" || frames.at(-1)?.model !== undefined) {
        frames.push(JSON.parse((await reader.next())!));
      }
      admin.close();
      const steps = frames.map((f) => f.phase ?? f.status);
      // The snapshot at connect: `starting`, or already a phase of the preload (the daemon does not wait for
      // subscribers; src/daemon/server/daemon_test.ts holds the load back to see `starting` first every time).
      assert.ok(steps[0] === "starting" || frames[0]!.status === "loading_model", steps.join(" "));
      assert.equal(steps.filter((s) => s === "ready").length, 1);
      assert.deepEqual(steps.slice(-3), ["kv_cache", "capabilities", "ready"]);
      assert.ok(steps.includes("mmap"), steps.join(" "));
      assert.ok(frames.filter((f) => f.status === "loading_model").every((f) => f.model === "stories260K"));

      const status = await runLode(["status", "--socket", daemon.socket], { store });
      assert.equal(status.code, 0, status.stderr);
      assert.match(
        status.stdout,
        /^daemon: ready: accepting requests \(pid \d+, up \d+s, lode .*, protocol 1\)$/m,
      );
      assert.match(status.stdout, /capabilities: backend llamacpp, cpu/);
      assert.match(status.stdout, /^queue: 0 waiting, 0 running$/m);
      assert.match(status.stdout, /^model: stories260K \(loaded, n_ctx \d+/m);
      const json = await runLode(["status", "--socket", daemon.socket, "--json"], { store });
      assert.deepEqual(json.events.map((e) => [e.event, e.status]), [["status", "capabilities"], [
        "status",
        "ready",
      ]]);
      json.events.forEach((e) => StatusLine.parse(e));

      const args = [
        "run",
        "stories260K",
        "Once upon a time",
        "-t",
        "0",
        "-n",
        "40",
        "--socket",
        daemon.socket,
      ];
      const via = await runLode([...args, "-v"], { store });
      assert.equal(via.code, 0, via.stderr);
      assert.match(via.stderr, /running in the daemon on /);
      const local = await runLode([...args, "--no-daemon", "--threads", "1", "-v"], { store });
      assert.equal(local.code, 0, local.stderr);
      assert.doesNotMatch(local.stderr, /running in the daemon/);
      assert.equal(via.stdout, STORY + "\n");
      assert.equal(via.stdout, local.stdout);

      const embedArgs = ["embed", "stories260K", "a red ball", "--socket", daemon.socket];
      const e1 = await runLode(embedArgs, { store });
      const e2 = await runLode([...embedArgs, "--no-daemon", "--threads", "1"], { store });
      assert.equal(e1.code, 0, e1.stderr);
      const v1 = JSON.parse(e1.stdout)[0].embedding as number[];
      const v2 = JSON.parse(e2.stdout)[0].embedding as number[];
      assert.equal(v1.length, v2.length);
      v1.forEach((x, i) => assert.ok(Math.abs(x - v2[i]!) < 1e-4));

      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
      const records = (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l));
      const generate = records.find((r) => r.op === "generate");
      assert.equal(generate.completion_tokens, 40);
      assert.equal(generate.outcome, "ok");
      assert.equal(generate.prompt, undefined, "no prompts without --log-prompts");
    } finally {
      await daemon.stop();
    }
  });
});

Deno.test("lode status without a daemon exits 3 with DAEMON_NOT_RUNNING; run falls back to in-process, and ignores a default-socket daemon of another store", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const r = await runLode(["status", "--socket", `${dir}/none.sock`], { store });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /error\[DAEMON_NOT_RUNNING\]: no lode daemon is running/);
    const run = await runLode([
      "run",
      "stories260K",
      "Once upon a time",
      "-t",
      "0",
      "-n",
      "40",
      "--threads",
      "1",
    ], {
      store,
      env: { XDG_RUNTIME_DIR: `${dir}/runtime` },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, STORY + "\n");

    // A daemon on the default socket ($XDG_RUNTIME_DIR/lode/lode.sock) serves runs of its own store only.
    const env = { XDG_RUNTIME_DIR: `${dir}/runtime` };
    await Deno.mkdir(`${dir}/runtime/lode`, { recursive: true });
    const daemon = await startServe(`${dir}/runtime/lode`, store);
    try {
      const args = ["run", "stories260K", "Once upon a time", "-t", "0", "-n", "40", "-v"];
      const mine = await runLode(args, { store, env });
      assert.equal(mine.code, 0, mine.stderr);
      assert.match(mine.stderr, /running in the daemon on .*\/runtime\/lode\/lode\.sock/);
      assert.equal(mine.stdout, STORY + "\n");
      const other = await storeWithStories(`${dir}/other`);
      const theirs = await runLode([...args, "--threads", "1"], { store: other, env });
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.doesNotMatch(theirs.stderr, /running in the daemon/);
      assert.equal(theirs.stdout, STORY + "\n");
    } finally {
      await daemon.stop();
    }
  });
});

Deno.test("two lode serve at once: exactly one wins, the other exits 7 naming its pid", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const a = await startServe(dir, store, [], { wait: false });
    const b = await startServe(dir, store, [], { wait: false });
    try {
      await waitForSocket(`${dir}/lode.sock`);
      // One of them has exited with DAEMON_RUNNING; the other serves.
      const first = await Promise.race([
        a.child.status.then(() => "a"),
        b.child.status.then(() => "b"),
      ]);
      const [loser, winner] = first === "a" ? [a, b] : [b, a];
      const lost = await loser.stop();
      assert.equal(lost.code, 7, lost.stderr);
      assert.match(lost.stderr, /error\[DAEMON_RUNNING\]: a lode daemon \(pid (\d+),/);
      assert.equal(Number(/pid (\d+)/.exec(lost.stderr)![1]), winner.child.pid);
      const c = await FrameClient.connect(winner.socket);
      await c.write({ id: "h", op: "health" });
      assert.equal((await c.frames("h"))[0]!.status, "ready");
      c.close();
      assert.equal((await winner.stop()).code, 0);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

Deno.test("SIGTERM drains: an in-flight generate completes, a new request gets DRAINING, sockets are gone, exit 0", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const daemon = await startServe(dir, store, ["--ctx-size", "2048"]);
    try {
      const c = await FrameClient.connect(daemon.socket);
      await c.write({
        id: "g",
        op: "generate",
        model: "stories260K",
        prompt: "Once upon a time",
        max_tokens: 1500,
        temperature: 0,
      });
      // Connected before the signal: on a busy machine the generation may end (and the daemon with it)
      // before a connection opened after it.
      const admin = await Deno.connect({ transport: "unix", path: daemon.adminSocket });
      const late = await FrameClient.connect(daemon.socket);
      await c.until(() => c.sofar("g").some((f) => f.type === "token"));
      daemon.child.kill("SIGTERM");
      // Draining: the admin stream says so; a new request is refused.
      const reader = new LineReader(admin);
      let status = "";
      while (status !== "draining") status = JSON.parse((await reader.next())!).status;
      await late.write({ id: "t", op: "tokenize", model: "stories260K", text: "hi" });
      assert.equal(terminal(await late.frames("t")).code, "DRAINING");
      const g = await c.frames("g");
      assert.equal(terminal(g).type, "done");
      assert.ok(tokenText(g).startsWith(STORY));
      admin.close();
      c.close();
      late.close();
      const r = await daemon.stop();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /draining: 1 request\(s\) in flight/);
      for (const f of [daemon.socket, daemon.adminSocket]) {
        await assert.rejects(Deno.lstat(f), Deno.errors.NotFound, f);
      }
    } finally {
      await daemon.stop();
    }
  });
});

Deno.test("detokenize through lode serve: docs/protocol.md's example answers as written; an id outside the vocabulary is BAD_REQUEST naming it, and the runner lives on; DaemonSession detokenizes, reports the daemon's capabilities, renders a chat as in-process (render_chat: as documented)", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const daemon = await startServe(dir, store);
    const c = await FrameClient.connect(daemon.socket);
    const client = await DaemonClient.connect(daemon.socket);
    try {
      // The doc's detokenize section: its request line, then the answer lines it shows.
      const doc = await Deno.readTextFile(new URL("../docs/protocol.md", import.meta.url));
      const section = doc.slice(doc.indexOf("### `detokenize`"), doc.indexOf("### `models`"));
      const lines = [...section.matchAll(/```ndjson\n([^]*?)```/g)].flatMap((m) => m[1]!.trim().split("\n"));
      const [request, ...answers] = lines.map((l) => JSON.parse(l));
      await c.write(request);
      const frames = await c.frames(request.id);
      assert.deepEqual(frames.filter((f) => f.type !== "loading"), answers.slice(0, 2));
      await c.write({ id: "t", op: "tokenize", model: "stories260K", text: answers[0].text });
      assert.deepEqual((await c.frames("t"))[0]!.tokens, request.tokens);

      const runners = await runnerPids(daemon.child.pid);
      assert.equal(runners.length, 1);
      await c.write({ id: "d2", op: "detokenize", model: "stories260K", tokens: [403, 600] });
      const bad = terminal(await c.frames("d2"));
      const documented = answers[2];
      assert.deepEqual({ ...bad, hint: "…" }, documented);
      await c.write({ id: "d3", op: "detokenize", model: "stories260K", tokens: [403, -1] });
      const negative = terminal(await c.frames("d3")).details as {
        field: string;
        issues: { path: string }[];
      };
      assert.equal(negative.field, "tokens.1");
      assert.deepEqual(negative.issues.map((i) => i.path), ["tokens[1]"]);
      // The runner that refused the id still serves (the same process: no crash, no reload).
      await c.write({ id: "d4", op: "detokenize", model: "stories260K", tokens: [403, 407] });
      assert.deepEqual((await c.frames("d4"))[0], { id: "d4", type: "text", text: "Once upon" });
      assert.deepEqual(await runnerPids(daemon.child.pid), runners);

      const session = await client.session("stories260K");
      assert.equal(await session.detokenize(await session.tokenize("a big, red ball")), "a big, red ball");
      await assert.rejects(
        session.detokenize([2 ** 31]),
        (e: LodeError) => e.code === "USAGE" && e.details.field === "tokens.0",
      );
      // render_chat: the doc's example answers as written; DaemonSession.renderChat is the in-process text.
      const rendered = doc.slice(doc.indexOf("### `render_chat`"), doc.indexOf("### `models`"));
      const [renderRequest, ...renderAnswers] = [...rendered.matchAll(/```ndjson\n([^]*?)```/g)]
        .flatMap((m) => m[1]!.trim().split("\n")).map((l) => JSON.parse(l));
      await c.write(renderRequest);
      assert.deepEqual((await c.frames(renderRequest.id)).filter((f) => f.type !== "loading"), renderAnswers);
      const local = await createLlamaCppBackend().load(STORIES_FILE, { threads: 1, gpu: "off" });
      try {
        assert.deepEqual(session.capabilities, local.capabilities);
        for (const messages of [renderRequest.messages, [{ role: "user" as const, content: "hi" }]]) {
          assert.equal(await session.renderChat(messages), await local.renderChat(messages));
        }
      } finally {
        await local.close();
      }
    } finally {
      c.close();
      client.close();
      await daemon.stop();
    }
  });
});
