import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { isLodeError, type LodeError } from "../../errors.ts";
import type { GenerateResult, Generation, StatusEvent } from "../../inference/backend.ts";
import { createLlamaCppBackend } from "../../inference/llama_cpp_backend.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import { childPids, processAlive } from "../../../tests/support/child_pids.ts";
import { RUNNER_SUBCOMMAND, runnerCommand } from "./runner_command.ts";
import { startRunnerSession } from "./runner_session.ts";

const MODEL = fileURLToPath(new URL("../../../tests/fixtures/stories260K.gguf", import.meta.url));
const PROMPT = "Once upon a time";
const LOAD = { threads: 1, gpu: "off" as const };

async function drain(generation: Generation): Promise<{ chunks: string[]; result: GenerateResult }> {
  const chunks: string[] = [];
  for await (const chunk of generation) chunks.push(chunk);
  return { chunks, result: await generation.result };
}

async function caught(promise: Promise<unknown>): Promise<LodeError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(isLodeError(e), `not a LodeError: ${e}`);
    return e;
  }
  assert.fail("expected a rejection");
}

Deno.test("runnerCommand: the binary itself when compiled, deno run main.ts from a checkout", () => {
  assert.deepEqual(runnerCommand({ execPath: "/opt/lode", standalone: true }), {
    command: "/opt/lode",
    args: [RUNNER_SUBCOMMAND],
  });
  const dev = runnerCommand({ execPath: "/usr/bin/deno", standalone: false });
  assert.equal(dev.command, "/usr/bin/deno");
  assert.equal(dev.args.at(-1), "__runner");
  assert.ok(dev.args.at(-2)!.endsWith("/main.ts") && dev.args.includes("-A"), dev.args.join(" "));
  assert.equal(
    dev.args[dev.args.indexOf("--config") + 1],
    fileURLToPath(new URL("../../../deno.json", import.meta.url)),
  );
});

Deno.test("a runner answers every Session call exactly as the in-process backend does", async () => {
  const backend = createLlamaCppBackend();
  const local = await backend.load(MODEL, LOAD);
  const statuses: StatusEvent[] = [];
  const remote = await startRunnerSession(MODEL, { load: LOAD, onStatus: (e) => statuses.push(e) });
  try {
    assert.notEqual(remote.pid, Deno.pid);
    assert.ok(await processAlive(remote.pid));
    assert.deepEqual(statuses.map((s) => s.status === "loading_model" ? s.phase : s.status), [
      "mmap",
      "kv_cache",
      "capabilities",
    ]);
    assert.deepEqual(remote.capabilities, local.capabilities);
    assert.deepEqual({ ...remote.info, loadMs: 0 }, { ...local.info, loadMs: 0 });

    const greedy = { maxTokens: 60, temperature: 0 };
    const [a, b] = [
      await drain(local.generate(PROMPT, greedy)),
      await drain(remote.generate(PROMPT, greedy)),
    ];
    assert.equal(b.result.text, a.result.text);
    assert.ok(b.result.text.startsWith(", there was a little girl named Lily."), b.result.text);
    assert.equal(b.chunks.join(""), b.result.text);
    assert.ok(b.chunks.length > 10, "streamed chunk by chunk");
    assert.equal(b.result.stopReason, "max_tokens");
    assert.deepEqual(
      [b.result.usage.promptTokens, b.result.usage.generatedTokens],
      [a.result.usage.promptTokens, a.result.usage.generatedTokens],
    );
    const sampled = { maxTokens: 30, temperature: 0.8, seed: 5, stop: ["."] };
    assert.deepEqual(
      (await remote.generate(PROMPT, sampled).result).text,
      (await local.generate(PROMPT, sampled).result).text,
    );
    const messages = [{ role: "user" as const, content: "Tell me a story" }];
    assert.equal(await remote.renderChat(messages), await local.renderChat(messages));
    assert.equal(
      (await remote.chat(messages, greedy).result).text,
      (await local.chat(messages, greedy).result).text,
    );
    assert.deepEqual(await remote.tokenize("a big red ball"), await local.tokenize("a big red ball"));
    assert.equal(await remote.detokenize([300, 301, 302]), await local.detokenize([300, 301, 302]));
    assert.deepEqual(await remote.embed(["Lily", "a ball"]), await local.embed(["Lily", "a ball"]));
    // Errors keep their code across the process boundary.
    assert.equal((await caught(remote.detokenize([1e9]))).code, "USAGE");
    assert.equal((await caught(remote.generate(PROMPT, { maxTokens: -1 }).result)).code, "USAGE");
    assert.equal((await remote.generate(PROMPT, { maxTokens: 3 }).result).usage.generatedTokens, 3);
    // A prompt longer than the context is refused in the runner as in process: same code, words, numbers.
    const long = Array(4003).fill("a").join(" ");
    const [inProcess, inRunner] = [
      await caught(local.generate(long).result),
      await caught(remote.generate(long).result),
    ];
    assert.equal(inRunner.code, "CONTEXT_LENGTH_EXCEEDED");
    assert.deepEqual([inRunner.message, inRunner.details], [inProcess.message, inProcess.details]);
  } finally {
    await remote.close();
    await backend.close();
  }
  const exit = await remote.exited;
  assert.equal(exit.crashed, false);
  assert.equal(await processAlive(remote.pid), false, "close() leaves no runner process");
  assert.deepEqual(await childPids(), []);
  assert.equal((await caught(remote.tokenize("x"))).code, "INFERENCE_FAILED");
});

Deno.test("cancel: an aborted generation stops promptly with stopReason abort; the runner goes on", async () => {
  const session = await startRunnerSession(MODEL, { load: LOAD });
  try {
    // Without maxTokens stories260K writes ~2000 tokens (seconds): abort after the first few chunks.
    const controller = new AbortController();
    const generation = session.generate(PROMPT, { temperature: 0, signal: controller.signal });
    let chunks = 0;
    for await (const _ of generation) {
      if (++chunks === 5) controller.abort();
    }
    const result = await generation.result;
    assert.equal(result.stopReason, "abort");
    // Promptly: the chunks already on their way, not the ~2000 tokens of the whole story.
    assert.ok(result.usage.generatedTokens < 200, `${result.usage.generatedTokens} tokens after the abort`);
    assert.ok(chunks < 200, `${chunks} chunks delivered after the abort`);

    // Leaving the loop early aborts too; the next generation runs normally.
    const left = session.generate(PROMPT, { temperature: 0 });
    for await (const _ of left) break;
    assert.equal((await left.result).stopReason, "abort");
    assert.equal((await session.generate(PROMPT, { maxTokens: 5 }).result).usage.generatedTokens, 5);

    // An embed aborted before it runs.
    const aborted = new AbortController();
    aborted.abort();
    assert.equal((await caught(session.embed(["x"], { signal: aborted.signal }))).code, "INTERRUPTED");
  } finally {
    await session.close();
  }
});

Deno.test("several calls in flight at once on one session, each cancellable; frames over 16 MiB both ways", async () => {
  const session = await startRunnerSession(MODEL, { load: { ...LOAD, sequences: 2 } });
  try {
    const greedy = { maxTokens: 40, temperature: 0 };
    const alone = (await session.generate(PROMPT, greedy).result).text;
    const controller = new AbortController();
    const cancelled = session.generate(PROMPT, { temperature: 0, signal: controller.signal });
    const [a, b] = [session.generate(PROMPT, greedy), session.generate(PROMPT, greedy)];
    const tokens = session.tokenize("a big red ball");
    let chunks = 0;
    for await (const _ of cancelled) if (++chunks === 3) controller.abort();
    assert.equal((await cancelled.result).stopReason, "abort");
    assert.deepEqual([(await a.result).text, (await b.result).text], [alone, alone]);
    assert.ok((await tokens).length > 0);

    // A call and its answer each longer than the 16 MiB frame of other plugins (the large_frames feature).
    const few = await session.tokenize("Once upon a time there was a big red ball");
    const ids = Array.from({ length: 5_000_000 }, (_, i) => few[i % few.length]!);
    assert.ok(JSON.stringify(ids).length > 16 << 20);
    const text = await session.detokenize(ids);
    assert.ok(text.length > 16 << 20, `${text.length} characters`);
    assert.ok(text.startsWith(await session.detokenize(few)));
  } finally {
    await session.close();
  }
});

Deno.test("kill -9 of a runner mid-generation: the request rejects RUNNER_CRASHED, so does every later call", async () => {
  const session = await startRunnerSession(MODEL, { load: LOAD });
  const generation = session.generate(PROMPT, { temperature: 0 });
  const queued = session.generate(PROMPT, { maxTokens: 10 }); // waits behind the first one in the runner
  const embedding = session.embed(["queued too"]);
  let chunks = 0;
  const error = await caught((async () => {
    for await (const _ of generation) if (++chunks === 3) Deno.kill(session.pid, "SIGKILL");
  })());
  assert.equal(error.code, "RUNNER_CRASHED");
  assert.equal(error.details.signal, "SIGKILL");
  assert.match(error.message, /killed by SIGKILL/);
  assert.equal((await caught(generation.result)).code, "RUNNER_CRASHED");
  assert.equal((await caught(queued.result)).code, "RUNNER_CRASHED");
  assert.equal((await caught(embedding)).code, "RUNNER_CRASHED");
  const exit = await session.exited;
  assert.deepEqual([exit.crashed, exit.signal], [true, "SIGKILL"]);
  assert.equal(session.dead, true);
  assert.equal((await caught(session.tokenize("after"))).code, "RUNNER_CRASHED");
  assert.equal((await caught(session.generate(PROMPT).result)).code, "RUNNER_CRASHED");
  await session.close(); // a dead runner closes quietly
});

Deno.test("a file that is not a model: MODEL_LOAD_FAILED from the runner, which is stopped", async () => {
  await withTempDir(async (dir) => {
    const bad = `${dir}/bad.gguf`;
    await Deno.writeTextFile(bad, "not a gguf file at all");
    const lines: string[] = [];
    const error = await caught(startRunnerSession(bad, { load: LOAD, onLog: (l) => lines.push(l) }));
    assert.equal(error.code, "MODEL_LOAD_FAILED");
    assert.equal(error.details.path, bad);
  });
});

Deno.test("aborting a load kills the runner: INTERRUPTED, and no child process is left", async () => {
  const controller = new AbortController();
  // While the runner starts (spawning, importing node-llama-cpp: far longer than one turn of the event loop).
  setTimeout(() => controller.abort(), 0);
  const error = await caught(startRunnerSession(MODEL, { load: LOAD, signal: controller.signal }));
  assert.equal(error.code, "INTERRUPTED");
  assert.deepEqual(await childPids(), []);
});

Deno.test("aborting once the runner is loading (its first load phase): INTERRUPTED, the runner is killed", async () => {
  const controller = new AbortController();
  const phases: string[] = [];
  const error = await caught(startRunnerSession(MODEL, {
    load: LOAD,
    signal: controller.signal,
    onStatus: (e) => {
      phases.push(e.status === "loading_model" ? e.phase : e.status);
      controller.abort();
    },
  }));
  assert.equal(error.code, "INTERRUPTED");
  assert.deepEqual(phases, ["mmap"], "aborted after the runner connected and began loading");
  assert.deepEqual(await childPids(), []);
});

Deno.test("a daemon killed by SIGKILL leaves no runner behind: the runner sees its socket close and exits", async () => {
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      fileURLToPath(new URL("../../../tests/support/hold_runner.ts", import.meta.url)),
      MODEL,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("\n")) out += (await reader.read()).value ?? "";
  const runnerPid = Number(out.trim());
  assert.ok(runnerPid > 0 && await processAlive(runnerPid));
  holder.kill("SIGKILL");
  await holder.status;
  await reader.cancel();
  const deadline = performance.now() + 30_000;
  while (await processAlive(runnerPid)) {
    assert.ok(performance.now() < deadline, "the runner outlived its daemon");
    await new Promise((r) => setTimeout(r, 50));
  }
});

Deno.test("lode __runner by hand (no --socket) says what it is for and exits 2", async () => {
  const { command, args } = runnerCommand();
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /started by the daemon/);
});
