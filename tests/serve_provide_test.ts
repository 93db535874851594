/**
 * `lode serve` pulls what the store lacks (src/daemon/router/model_provider.ts): a real daemon on an EMPTY store,
 * a real HTTPS origin on loopback serving stories260K, the real CLI as client. A name the lockfile pins and
 * a request naming a reference are pulled through the daemon, their progress on the admin stream; an
 * unknown name stays MODEL_NOT_FOUND; a digest mismatch fails only its request; --offline pulls nothing.
 * A pull outlives a client that leaves while another waits, and stops (resumable) when the last one
 * leaves. (Whose HF_TOKEN a daemon pulls with: tests/serve_hf_token_test.ts.)
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { runLode } from "./support/lode_cli.ts";
import { FrameClient, terminal, tokenText } from "./support/frame_client.ts";
import { makeTestCa, type TestCa } from "./support/test_ca.ts";
import { type Origin, startOrigin } from "./support/origin.ts";
import { type ServeProcess, startServe, STORIES_FILE, waitForSocket } from "./support/serve_process.ts";
import { LineReader } from "./support/unix_socket.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { STORIES_SHA, writeStoriesLockfile } from "./support/stories_lockfile.ts";

const STORIES = await Deno.readFile(STORIES_FILE);
const STORY =
  ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";
/** stories260K with one byte changed, served where another digest is pinned. */
const CORRUPT = STORIES.slice();
CORRUPT[CORRUPT.length - 1] = CORRUPT[CORRUPT.length - 1]! ^ 0xff;
const WANTED_SHA = createHash("sha256").update("not these bytes").digest("hex");

interface World {
  dir: string;
  ca: TestCa;
  origin: Origin;
  store: string;
  lockfile: string;
}

async function withWorld(body: (w: World) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const origin = await startOrigin({
      tls: ca,
      routes: { "/m/stories260K.gguf": { body: STORIES }, "/m/corrupt.gguf": { body: CORRUPT } },
    });
    const url = `${origin.url}/m/stories260K.gguf`;
    const lockfile = `${dir}/lode.lock`;
    await writeStoriesLockfile(lockfile, url);
    try {
      await body({ dir, ca, origin, store: `${dir}/store`, lockfile });
    } finally {
      await origin.close();
    }
  });
}

function gets(origin: Origin, path: string): number {
  return origin.requests.filter((r) => r.method === "GET" && r.path === path).length;
}

/** Admin frames until one for `model` says `ready` (rejects when the stream ends first). */
async function adminUntilReady(path: string, model: string): Promise<Record<string, unknown>[]> {
  const conn = await Deno.connect({ transport: "unix", path });
  const reader = new LineReader(conn);
  const frames: Record<string, unknown>[] = [];
  try {
    while (!(frames.at(-1)?.status === "ready" && frames.at(-1)?.model === model)) {
      const line = await reader.next();
      if (line === null) throw new Error(`admin stream ended: ${JSON.stringify(frames)}`);
      frames.push(JSON.parse(line));
    }
    return frames;
  } finally {
    conn.close();
  }
}

function serve(w: World, args: string[] = []): Promise<ServeProcess> {
  return startServe(w.dir, w.store, ["--ca-cert", w.ca.caCertPath, "--lockfile", w.lockfile, ...args]);
}

const RUN = ["Once upon a time", "-t", "0", "-n", "40"];

Deno.test("lode serve, empty store: a locked name is pulled through the daemon (admin download frames, then ready); unknown names and digest mismatches fail alone", async () => {
  await withWorld(async (w) => {
    const daemon = await serve(w);
    try {
      await waitForSocket(daemon.adminSocket);
      const admin = adminUntilReady(daemon.adminSocket, "stories260K");
      // Load flags through a daemon: --ctx-size goes with the load; a note says the others are not applied.
      const run = await runLode([
        "run",
        "stories260K",
        ...RUN,
        "--socket",
        daemon.socket,
        "--ctx-size",
        "256",
        "--threads",
        "1",
      ], {
        store: w.store,
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, STORY + "\n");
      assert.match(run.stderr, /note: --threads not applied: the daemon's load settings apply.*--no-daemon/);
      assert.doesNotMatch(run.stderr, /--ctx-size/);
      assert.equal(gets(w.origin, "/m/stories260K.gguf") >= 1, true, "the origin saw the download");

      const frames = (await admin).filter((f) => f.model === "stories260K");
      assert.ok(frames.every((f) => f.id === "admin" && f.type === "status"));
      const downloads = frames.filter((f) => f.status === "loading_model" && f.phase === "download");
      assert.ok(downloads.length >= 1, JSON.stringify(frames));
      assert.equal(downloads.at(-1)!.downloaded_bytes, STORIES.length);
      assert.equal(downloads.at(-1)!.total_bytes, STORIES.length);
      assert.equal(downloads.at(-1)!.source_url, `${w.origin.url}/m/stories260K.gguf`);
      const steps = frames.map((f) => f.phase ?? f.status);
      assert.ok(steps.indexOf("download") < steps.indexOf("mmap"), steps.join(" "));
      assert.equal(
        frames.find((f) => f.phase === "kv_cache")?.n_ctx,
        256,
        "--ctx-size applied in the daemon",
      );
      assert.equal(steps.at(-1), "ready");

      // The store now holds it: a second client loads nothing and downloads nothing.
      const before = gets(w.origin, "/m/stories260K.gguf");
      const again = await runLode(["run", "stories260K", ...RUN, "--socket", daemon.socket], {
        store: w.store,
      });
      assert.equal(again.stdout, STORY + "\n");
      assert.equal(gets(w.origin, "/m/stories260K.gguf"), before);
      const ls = await runLode(["ls"], { store: w.store });
      assert.match(ls.stdout, /stories260K/);

      const client = await FrameClient.connect(daemon.socket);
      try {
        await client.write({ id: "u", op: "generate", model: "nosuch", prompt: "x", max_tokens: 1 });
        assert.equal(terminal(await client.frames("u")).code, "MODEL_NOT_FOUND");
        const bad = `${w.origin.url}/m/corrupt.gguf#sha256=${WANTED_SHA}`;
        await client.write({ id: "d", op: "generate", model: bad, prompt: "x", max_tokens: 1 });
        assert.equal(terminal(await client.frames("d")).code, "DIGEST_MISMATCH");
        assert.equal(gets(w.origin, "/m/corrupt.gguf") >= 1, true);
        // The daemon stays up and serves the good model.
        await client.write({
          id: "g",
          op: "generate",
          model: "stories260K",
          prompt: "Once upon a time",
          max_tokens: 40,
          temperature: 0,
        });
        const g = await client.frames("g");
        assert.equal(terminal(g).type, "done");
        assert.equal(tokenText(g), STORY);
      } finally {
        client.close();
      }
      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.match(stopped.stderr, /stories260K: pulled from the lockfile/);
    } finally {
      await daemon.stop();
    }
  });
});

Deno.test("lode serve, empty store: a request by reference pulls it (once) and runs it; --offline pulls nothing", async () => {
  await withWorld(async (w) => {
    await Deno.writeTextFile(w.lockfile, JSON.stringify({ lockfile_version: 1, models: [] }));
    const ref = `${w.origin.url}/m/stories260K.gguf#sha256=${STORIES_SHA}`;
    const offline = await serve(w, ["--offline"]);
    try {
      const client = await FrameClient.connect(offline.socket);
      await client.write({ id: "o", op: "generate", model: ref, prompt: "x", max_tokens: 1 });
      assert.equal(terminal(await client.frames("o")).code, "OFFLINE");
      client.close();
      assert.equal(w.origin.requests.length, 0, "offline: no connection to the origin");
    } finally {
      const stopped = await offline.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
    }

    const daemon = await serve(w);
    try {
      const run = await runLode(["run", ref, ...RUN, "--socket", daemon.socket, "-v"], { store: w.store });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, STORY + "\n");
      assert.match(run.stderr, /running in the daemon on /);
      const fetched = gets(w.origin, "/m/stories260K.gguf");
      assert.ok(fetched >= 1);
      // The same reference again (a new load after unload): found in the store under its name, no download.
      const client = await FrameClient.connect(daemon.socket);
      try {
        await client.write({ id: "u", op: "unload", model: ref });
        await client.frames("u");
        await client.write({
          id: "g",
          op: "generate",
          model: ref,
          prompt: "Once upon a time",
          max_tokens: 40,
          temperature: 0,
        });
        assert.equal(tokenText(await client.frames("g")), STORY);
        await client.write({
          id: "n",
          op: "generate",
          model: "stories260K",
          prompt: "Once upon a time",
          max_tokens: 40,
          temperature: 0,
        });
        assert.equal(tokenText(await client.frames("n")), STORY);
      } finally {
        client.close();
      }
      assert.equal(gets(w.origin, "/m/stories260K.gguf"), fetched);
    } finally {
      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
    }
  });
});

/**
 * A route serving stories260K slowly, its first `times` GETs: `afterBytes` at full speed, then `chunkBytes`
 * every `delayMs` (default 16 KiB every 40 ms from the start: about 3 s).
 */
function slowRoute(
  options: { times?: number; afterBytes?: number; chunkBytes?: number; delayMs?: number } = {},
) {
  const { chunkBytes = 16 * 1024, delayMs = 40, afterBytes } = options;
  return {
    body: STORIES,
    fault: { kind: "throttle" as const, chunkBytes, delayMs, afterBytes },
    faultTimes: options.times ?? Infinity,
  };
}

async function until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const MIB = 1024 * 1024;
const FAST = MIB + 16 * 1024;

const downloading = (c: FrameClient, id: string) =>
  c.sofar(id).some((f) => f.type === "loading" && f.phase === "download");

Deno.test("lode serve pull on first use, two clients waiting for it: one disconnects, the pull goes on and loads the model for the other", async () => {
  await withWorld(async (w) => {
    w.origin.routes["/slow/stories260K.gguf"] = slowRoute();
    const ref = `${w.origin.url}/slow/stories260K.gguf#sha256=${STORIES_SHA}`;
    const log = `${w.dir}/activity.ndjson`;
    const daemon = await serve(w, ["--log", log]);
    const a = await FrameClient.connect(daemon.socket);
    const b = await FrameClient.connect(daemon.socket);
    try {
      await a.write({ id: "la", op: "load", model: ref });
      await b.write({ id: "lb", op: "load", model: ref });
      // Both wait for the one pull, and both are told its progress.
      await until("download frames to both clients", () => downloading(a, "la") && downloading(b, "lb"));
      a.close();
      const frames = await b.frames("lb", 30_000);
      assert.deepEqual(frames.filter((f) => f.type !== "loading").map((f) => f.type), ["loaded", "done"]);
      const progress = frames.filter((f) => f.phase === "download");
      assert.equal(progress.at(-1)!.downloaded_bytes, STORIES.length);
      await b.write({ id: "g", op: "generate", model: ref, prompt: "Once upon a time", max_tokens: 40 });
      assert.equal(tokenText(await b.frames("g")), STORY);
      // One GET, sent whole: the pull was never stopped nor restarted.
      const requests = w.origin.requests.filter((r) => r.path === "/slow/stories260K.gguf");
      assert.equal(requests.length, 1);
      assert.equal(requests[0]!.sentBytes, STORIES.length);
      assert.notEqual(requests[0]!.peerClosed, true);
      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
      // The client that left stopped waiting when it left (cancelled), long before the load it gave up.
      const records = (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l));
      const left = records.find((r) => r.request_id === "la");
      const stayed = records.find((r) => r.request_id === "lb");
      assert.equal(left.outcome, "error");
      assert.equal(left.code, "CANCELLED");
      assert.equal(stayed.outcome, "ok");
      // Records are written as requests end: the one that left ended first.
      assert.ok(records.indexOf(left) < records.indexOf(stayed), records.map((r) => r.request_id).join(" "));
    } finally {
      a.close();
      b.close();
      await daemon.stop();
    }
  });
});

Deno.test("lode serve pull on first use, its only client disconnects: the pull stops (the origin sees the connection closed), the partial stays, the next request resumes it with a Range request and loads the model", async () => {
  await withWorld(async (w) => {
    // Fast up to 1 MiB and a bit (the download engine writes, and so keeps, whole MiB batches), then the
    // last 118 KiB in about 6 s.
    w.origin.routes["/slow/stories260K.gguf"] = slowRoute({
      times: 1,
      afterBytes: FAST,
      chunkBytes: 2048,
      delayMs: 100,
    });
    const ref = `${w.origin.url}/slow/stories260K.gguf#sha256=${STORIES_SHA}`;
    const daemon = await serve(w);
    try {
      const a = await FrameClient.connect(daemon.socket);
      await a.write({ id: "la", op: "load", model: ref });
      // Leave once the fast part is sent (and so the first MiB written; the engine tells its progress per
      // MiB, thinned to 10/s: the client may not have seen it) and the slow part goes on.
      const first = () => w.origin.requests.find((r) => r.path === "/slow/stories260K.gguf")!;
      await until("the fast part sent", () => (first()?.sentBytes ?? 0) >= FAST + 4096);
      assert.ok(downloading(a, "la"));
      a.close();
      await until("the origin to see the download's connection closed", () => first().peerClosed === true);
      const cut = first().sentBytes;
      assert.ok(cut < STORIES.length, `${cut} bytes sent of ${STORIES.length}`);
      // Nothing was committed: no manifest, no blob; the partial and its resume record are there.
      const ls = await runLode(["ls", "--json"], { store: w.store });
      assert.deepEqual(ls.events.filter((e) => e.event === "model"), []);
      const partial = `${w.store}/blobs/sha256/${STORIES_SHA.slice(0, 2)}/.partial-${STORIES_SHA}`;
      await until(
        "the resume record",
        async () => (await Deno.stat(`${partial}/state.json`).catch(() => null)) !== null,
      );
      await assert.rejects(Deno.stat(`${w.store}/blobs/sha256/${STORIES_SHA.slice(0, 2)}/${STORIES_SHA}`));

      const b = await FrameClient.connect(daemon.socket);
      try {
        await b.write({ id: "lb", op: "load", model: ref });
        const frames = await b.frames("lb", 30_000);
        assert.equal(terminal(frames).type, "done", JSON.stringify(terminal(frames)));
        const gets = w.origin.requests.filter((r) =>
          r.method === "GET" && r.path === "/slow/stories260K.gguf"
        );
        assert.equal(gets.length, 2);
        const from = Number(/^bytes=(\d+)-/.exec(gets[1]!.headers.range ?? "")?.[1]);
        assert.ok(
          from >= MIB && from <= cut,
          `resumed from ${gets[1]!.headers.range} after ${cut} bytes sent`,
        );
        await b.write({ id: "g", op: "generate", model: ref, prompt: "Once upon a time", max_tokens: 40 });
        assert.equal(tokenText(await b.frames("g")), STORY);
      } finally {
        b.close();
      }
      const verify = await runLode(["verify", "stories260K"], { store: w.store });
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      await assert.rejects(Deno.stat(partial), Deno.errors.NotFound);
    } finally {
      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
    }
  });
});
