// RunnerClient's failures while a runner starts or loads, with real processes: an executable that cannot
// start, one that exits or never connects, a socket path too long, and the real runner killed mid-load.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { isLodeError, type LodeError } from "../../errors.ts";
import { childPids } from "../../../tests/support/child_pids.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import { RunnerClient, type RunnerSpawnOptions } from "./runner_client.ts";
import { type RunnerCommand, runnerCommand } from "./runner_command.ts";

const MODEL = fileURLToPath(new URL("../../../tests/fixtures/stories260K.gguf", import.meta.url));

/** Starts `command` in a fresh socketDir; returns the start's error and what the dir holds afterwards. */
async function failedStart(
  command: RunnerCommand,
  options: RunnerSpawnOptions = {},
): Promise<{ error: LodeError; left: string[] }> {
  return await withTempDir(async (socketDir) => {
    const error = await RunnerClient.start(command, { socketDir, ...options }).then(
      () => assert.fail("the start resolved"),
      (e) => e,
    );
    assert.ok(isLodeError(error), String(error));
    const left = [];
    for await (const entry of Deno.readDir(socketDir)) left.push(entry.name);
    assert.deepEqual(await childPids(), [], "no process is left");
    return { error, left };
  }, { prefix: "lode-runner-client-" });
}

Deno.test("an executable that cannot be started: RUNNER_CRASHED naming it, no socket directory left", async () => {
  const { error, left } = await failedStart({ command: "/nonexistent/lode", args: ["__runner"] });
  assert.equal(error.code, "RUNNER_CRASHED");
  assert.match(error.message, /\/nonexistent\/lode\) could not be started/);
  assert.deepEqual(left, []);
});

Deno.test("a runner that exits before it connects: RUNNER_CRASHED with its exit code and log", async () => {
  const { error, left } = await failedStart({
    command: "sh",
    args: ["-c", "echo broken install >&2; exit 3"],
  });
  assert.equal(error.code, "RUNNER_CRASHED");
  assert.match(error.message, /exited with code 3 while starting/);
  assert.equal(error.details.code, 3);
  assert.deepEqual(error.details.log, ["broken install"]);
  assert.deepEqual(left, []);
});

Deno.test("a runner that never connects is killed: at the connect timeout, or when the signal aborts", async () => {
  const silent = { command: "sh", args: ["-c", "exec sleep 30"] };
  const late = await failedStart(silent, { connectTimeoutMs: 200 });
  assert.equal(late.error.code, "RUNNER_CRASHED");
  assert.match(late.error.message, /did not connect in time/);
  assert.deepEqual(late.left, []);

  const aborted = await failedStart(silent, { signal: AbortSignal.timeout(200) });
  assert.equal(aborted.error.code, "RUNNER_CRASHED");
  assert.match(aborted.error.message, /killed by SIGKILL while starting/);
  assert.deepEqual(aborted.left, []);
});

Deno.test("a runner that connects but says no hello, or a hello lode does not speak: refused, killed", async () => {
  const fake = (mode: string) => ({
    command: Deno.execPath(),
    args: [
      "run",
      "-A",
      fileURLToPath(new URL("../../../tests/support/fake_runner.ts", import.meta.url)),
      mode,
    ],
  });
  const silent = await failedStart(fake("silent"), { connectTimeoutMs: 5000 });
  assert.equal(silent.error.code, "RUNNER_CRASHED");
  assert.match(silent.error.message, /said no hello in time/);
  const other = await failedStart(fake("other_version"));
  assert.equal(other.error.code, "PLUGIN_PROTOCOL");
  assert.match(other.error.message, /speaks protocol 99 \(API 1\); this lode speaks 1/);
  const few = await failedStart(fake("few_features"));
  assert.equal(few.error.code, "PLUGIN_PROTOCOL");
  assert.match(few.error.message, /lacks the features shutdown, chunks, large_frames/);
  assert.deepEqual([silent.left, other.left, few.left], [[], [], []]);
});

Deno.test("a socket directory whose path is too long for a socket: USAGE, nothing started, nothing left", async () => {
  await withTempDir(async (base) => {
    const socketDir = `${base}/${"d".repeat(100)}`;
    await Deno.mkdir(socketDir);
    const { error, left } = await failedStart(runnerCommand(), { socketDir });
    assert.equal(error.code, "USAGE");
    assert.match(error.message, /bytes; Unix sockets allow/);
    assert.deepEqual(left, [], "the socket's private directory is removed");
  }, { prefix: "lode-runner-client-" });
});

Deno.test("the real runner killed while it loads: the load rejects RUNNER_CRASHED, exited says crashed", async () => {
  const client = await RunnerClient.start(runnerCommand(), { label: "stories260K" });
  assert.deepEqual([client.hello.name, client.hello.hooks], ["runner", ["backend"]]);
  assert.ok(client.features.includes("chunks") && client.features.includes("large_frames"));
  const error = await client.call(
    "backend.load",
    { path: MODEL, options: { threads: 1, gpu: "off" } },
    { onProgress: () => client.kill() }, // at the first load phase (mmap): the model is half loaded
  ).then(() => assert.fail("the load resolved"), (e) => e);
  assert.ok(isLodeError(error, "RUNNER_CRASHED"), String(error));
  assert.match(error.message, /the runner process of stories260K was killed by SIGKILL/);
  const exit = await client.exited;
  assert.deepEqual([exit.crashed, exit.signal, client.dead], [true, "SIGKILL", true]);
  assert.ok(
    isLodeError(
      await client.call("session.tokenize", { session: "s1", text: "x" }).catch((e) => e),
      "RUNNER_CRASHED",
    ),
  );
  await client.close(); // a dead runner closes quietly
  assert.deepEqual(await childPids(), []);
});
