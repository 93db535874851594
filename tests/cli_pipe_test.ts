/**
 * A closed pipe (`lode … | head`): real lode processes whose reader of stdout or stderr goes away early.
 * Every command, in every output mode, stops quietly with exit 141 (as SIGPIPE would): no message, no stack
 * trace; the store stays consistent and a pull's partial download is resumed by the next pull.
 */
import assert from "node:assert/strict";
import { EXIT } from "../src/errors.ts";
import { makeTestCa } from "./support/test_ca.ts";
import { startOrigin } from "./support/origin.ts";
import { listTree, runLode, runLodeClosing } from "./support/lode_cli.ts";
import { startServe, storeWithStories } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { GgufBytes } from "./support/gguf_bytes.ts";

/** A well-formed GGUF of 3 MiB (one F32 tensor of random values): large enough to be cut mid-body. */
function bigGguf(): Uint8Array<ArrayBuffer> {
  const [rows, columns] = [256, 3072];
  const data = new Uint8Array(rows * columns * 4);
  for (let at = 0; at < data.length; at += 65_536) crypto.getRandomValues(data.subarray(at, at + 65_536));
  return new GgufBytes().head(1, 2)
    .kvStr("general.architecture", "llama")
    .kvU32("general.alignment", 32)
    .tensor("token_embd.weight", [rows, columns], 0, 0)
    .pad(32)
    .raw(data)
    .bytes() as Uint8Array<ArrayBuffer>;
}

const BYTES = bigGguf();
const SHA = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", BYTES)))
  .map((b) => b.toString(16).padStart(2, "0")).join("");
const BLOB = `blobs/sha256/${SHA.slice(0, 2)}/${SHA}/data`;
const PARTIAL = `blobs/sha256/${SHA.slice(0, 2)}/.partial-${SHA}`;
const MiB = 1024 * 1024;
/** Lines read so far. */
const lines = (n: number) => (read: string) => read.split("\n").length > n;
/** The last `file_progress` event read so far has at least `bytes`. */
const progressed = (bytes: number) => (read: string) =>
  read.split("\n").slice(0, -1).map((l) => JSON.parse(l)).some((e) =>
    e.event === "file_progress" && e.downloaded_bytes >= bytes
  );

Deno.test("run and embed, --json and text: a closed stdout or stderr stops them quietly with exit 141", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const model = [
      "stories260K",
      "Once upon a time",
      "-t",
      "0",
      "-n",
      "1000",
      "--no-daemon",
      "--threads",
      "1",
    ];
    // `lode run … --json | head -n 1`: the first status line, then the reader goes; the load and the
    // generation are cancelled.
    const json = await runLodeClosing(["run", ...model, "--json"], {
      store,
      close: "stdout",
      until: lines(1),
    });
    assert.match(json.read, /^\{"event":"status","status":"loading_model"/);
    assert.deepEqual([json.code, json.other], [EXIT.OUTPUT_CLOSED, ""]);
    // `lode run … | head -c 20`: the first tokens, then the reader goes.
    const text = await runLodeClosing(["run", ...model], {
      store,
      close: "stdout",
      until: (read) => read.length >= 20,
    });
    assert.ok(text.read.startsWith(", there was a little"), text.read);
    assert.deepEqual([text.code, text.other], [EXIT.OUTPUT_CLOSED, ""]);
    // `lode embed … --json | head -n 1`.
    const embed = await runLodeClosing(
      ["embed", "stories260K", "a", "b", "c", "--json", "--no-daemon", "--threads", "1"],
      { store, close: "stdout", until: lines(1) },
    );
    assert.deepEqual([embed.code, embed.other], [EXIT.OUTPUT_CLOSED, ""]);
    // stderr closed: `--verbose` notes are the first thing written there.
    const verbose = await runLodeClosing(["run", ...model, "--verbose"], { store, close: "stderr" });
    assert.equal(verbose.code, EXIT.OUTPUT_CLOSED);
    // An error that cannot be printed (stderr closed) is no crash either.
    const missing = await runLodeClosing(["run", "missing", "hi"], { store, close: "stderr" });
    assert.deepEqual([missing.code, missing.other], [EXIT.OUTPUT_CLOSED, ""]);
  }, { prefix: "lode-pipe-run-" });
});

Deno.test("store commands and --help, text and --json: a closed stdout is exit 141 and nothing on stderr", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const before = await listTree(store);
    const commands = [
      ["inspect", "stories260K"],
      ["inspect", "stories260K", "--json"],
      ["verify", "--all"],
      ["verify", "--all", "--json"],
      ["ls"],
      ["ls", "--json"],
      ["path", "stories260K"],
      ["export", "stories260K", "-"],
      ["export", "stories260K", "-", "--json"],
      ["--help"],
    ];
    for (const args of commands) {
      const r = await runLodeClosing(args, { store, close: "stdout" });
      assert.deepEqual([r.code, r.other], [EXIT.OUTPUT_CLOSED, ""], args.join(" "));
    }
    assert.deepEqual(await listTree(store), before, "the store is as it was");
    assert.equal((await runLode(["verify", "--all"], { store })).code, 0);
  }, { prefix: "lode-pipe-store-" });
});

Deno.test("lode status and a run through the daemon: exit 141 on a closed stdout; the daemon serves on", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const daemon = await startServe(dir, store);
    try {
      const socket = ["--socket", daemon.socket];
      for (const args of [["status", ...socket], ["status", ...socket, "--json"]]) {
        const r = await runLodeClosing(args, { store, close: "stdout" });
        assert.deepEqual([r.code, r.other], [EXIT.OUTPUT_CLOSED, ""], args.join(" "));
      }
      const run = ["run", "stories260K", "Once upon a time", "-t", "0", ...socket];
      const closed = await runLodeClosing([...run, "-n", "1000"], {
        store,
        close: "stdout",
        until: (read) => read.length >= 20,
      });
      assert.deepEqual([closed.code, closed.other], [EXIT.OUTPUT_CLOSED, ""]);
      const again = await runLode([...run, "-n", "8"], { store });
      assert.equal(again.code, 0, again.stderr);
      assert.ok(again.stdout.startsWith(", there was a little"), again.stdout);
    } finally {
      const end = await daemon.stop();
      assert.equal(end.code, 0, end.stderr);
    }
  }, { prefix: "lode-pipe-daemon-" });
});

Deno.test("lode serve whose stderr's reader went away: it stops as on SIGTERM, exit 141, its sockets gone", async () => {
  await withTempDir(async (dir) => {
    const store = await storeWithStories(dir);
    const socket = `${dir}/lode.sock`;
    const r = await runLodeClosing(["serve", "--socket", socket, "--threads", "1"], {
      store,
      close: "stderr",
    });
    assert.deepEqual([r.code, r.other], [EXIT.OUTPUT_CLOSED, ""]);
    const left = (await listTree(dir)).filter((p) => p.endsWith(".sock"));
    assert.deepEqual(left, []);
  }, { prefix: "lode-pipe-serve-" });
});

Deno.test("lode pull: a closed stdout (--json) or stderr (text) stops the pull; the next pull resumes and completes", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    // The first answer sends 1.5 MiB, then the rest slowly: the reader goes away mid-body.
    const slow = { kind: "throttle" as const, afterBytes: 1.5 * MiB, chunkBytes: 65_536, delayMs: 100 };
    const origin = await startOrigin({
      tls: ca,
      routes: {
        "/json/m.gguf": { body: BYTES, fault: slow, faultTimes: 1 },
        "/text/m.gguf": { body: BYTES, fault: slow, faultTimes: 1 },
      },
    });
    try {
      for (const mode of ["json", "text"] as const) {
        const store = `${dir}/${mode}`;
        const ref = `${origin.url}/${mode}/m.gguf#sha256=${SHA}`;
        const args = ["--ca-cert", ca.caCertPath, "pull", ref];
        const r = mode === "json"
          // `lode pull URL --json | head`: the reader goes once 1 MiB is on disk.
          ? await runLodeClosing([...args, "--json"], { store, close: "stdout", until: progressed(MiB) })
          // `lode pull URL 2>&-`-like: stderr's reader goes at once; the first note finds it closed.
          : await runLodeClosing(args, { store, close: "stderr" });
        assert.deepEqual([r.code, r.other], [EXIT.OUTPUT_CLOSED, ""], mode);
        const tree = await listTree(store);
        assert.ok(!tree.some((p) => p.startsWith("manifests/")), tree.join("\n"));
        assert.ok(!tree.includes(BLOB), tree.join("\n"));
        if (mode === "json") assert.ok(tree.some((p) => p.startsWith(`${PARTIAL}/`)), tree.join("\n"));

        const before = origin.requests.length;
        const next = await runLode([...args, "--json"], { store });
        assert.equal(next.code, 0, next.stdout + next.stderr);
        assert.deepEqual(await Deno.readFile(`${store}/${BLOB}`), BYTES);
        if (mode === "json") {
          // Resumed: the next pull asked only for the bytes after what the first one kept.
          const get = origin.requests.slice(before).find((q) => q.method === "GET")!;
          const from = Number(/^bytes=(\d+)-/.exec(get.headers.range ?? "")?.[1]);
          assert.ok(from >= MiB && from < BYTES.length, `the next pull asked for ${get.headers.range}`);
        }
        assert.equal((await runLode(["verify", "--all"], { store })).code, 0);
      }
    } finally {
      await origin.close();
    }
  }, { prefix: "lode-pipe-pull-" });
});
