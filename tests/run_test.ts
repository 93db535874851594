/**
 * `lode run` through the real CLI: the real model, real node-llama-cpp, real
 * pull from a loopback HTTPS origin when the model is missing.
 */
import assert from "node:assert/strict";
import { makeTestCa } from "./support/test_ca.ts";
import { startOrigin } from "./support/origin.ts";
import { runLode } from "./support/lode_cli.ts";
import { DoneEvent, InferenceEvent, StatusLine } from "../src/events/mod.ts";
import { writeChatModel } from "./support/chat_model.ts";
import { withTempDir } from "./support/temp_dir.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;
const SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const STORY =
  ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";
/** A lockfile that pins `name` (to a URL nothing serves: the test never syncs it). */
const LOCKED = (name: string) => ({
  lockfile_version: 1,
  models: [{
    name,
    reference: `https://models.test/${name}.gguf#sha256=${SHA}`,
    registry: "models.test",
    repo: "",
    revision: "",
    files: [{
      role: "model",
      filename: `${name}.gguf`,
      url: `https://models.test/${name}.gguf`,
      sha256: SHA,
    }],
  }],
});

Deno.test("lode run pulls a missing model over https, then prints the known story at temperature 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-run-" });
  const ca = await makeTestCa(`${dir}/ca`);
  const origin = await startOrigin({ tls: ca, routes: { "/stories260K.gguf": { file: FIXTURE } } });
  try {
    const store = `${dir}/store`;
    const args = ["--ca-cert", ca.caCertPath, "run", `${origin.url}/stories260K.gguf#sha256=${SHA}`];
    const r = await runLode([...args, "Once upon a time", "--temperature", "0", "--max-tokens", "40"], {
      store,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, STORY + "\n");
    // The model is now in the store: by name, no network.
    const again = await runLode([
      "run",
      "stories260K",
      "Once upon a time",
      "-t",
      "0",
      "-n",
      "40",
      "--offline",
    ], {
      store,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, STORY + "\n");
  } finally {
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lode run --json streams load phases, capabilities, tokens and usage", async () => {
  const store = await Deno.makeTempDir();
  try {
    const r = await runLode(
      ["run", `file:${FIXTURE}`, "Once upon a time", "-t", "0", "-n", "40", "--json", "--threads", "1"],
      { store },
    );
    assert.equal(r.code, 0, r.stderr);
    // Every line is tagged by `event`; the load's are `status` lines.
    assert.ok(r.events.every((e) => typeof e.event === "string"), r.stdout);
    const statuses = r.events.filter((e) => e.event === "status").map((e) => StatusLine.parse(e));
    assert.deepEqual(statuses.map((s) => "phase" in s ? s.phase : s.status), [
      "mmap",
      "kv_cache",
      "capabilities",
    ]);
    const text = r.events.filter((e) => e.event === "token").map((e) => e.text).join("");
    assert.equal(text, STORY);
    const done = r.events.at(-1)!;
    assert.equal(done.event, "done");
    assert.equal((done.usage as { generatedTokens: number }).generatedTokens, 40);
  } finally {
    await Deno.remove(store, { recursive: true });
  }
});

Deno.test("lode run: an unknown model or a missing file exits 3 (a locked name: lode sync), a non-GGUF file 10, stdin prompts", async () => {
  const store = await Deno.makeTempDir();
  try {
    const missing = await runLode(["run", "nope", "hi"], { store });
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /error\[MODEL_NOT_FOUND\]/);
    // A local path that is not there is not found (exit 3), not a load failure.
    const noFile = await runLode(["run", "file:./missing.gguf", "hi"], { store, cwd: store });
    assert.equal(noFile.code, 3, noFile.stderr);
    assert.match(noFile.stderr, /error\[FILE_NOT_FOUND\]: no such model file: \.\/missing\.gguf/);
    // A name ./lode.lock pins but the store lacks: `lode sync NAME` installs it.
    await Deno.writeTextFile(`${store}/lode.lock`, JSON.stringify(LOCKED("nope")));
    const locked = await runLode(["run", "nope", "hi", "--no-daemon"], { store, cwd: store });
    assert.equal(locked.code, 3);
    assert.match(
      locked.stderr,
      /hint: \.\/lode\.lock pins "nope" but the store lacks it: `lode sync nope` installs it/,
    );
    await Deno.writeTextFile(`${store}/junk.gguf`, "this is not a model");
    const junk = await runLode(["run", `file:${store}/junk.gguf`, "hi"], { store });
    assert.equal(junk.code, 10, junk.stderr);
    assert.match(junk.stderr, /error\[MODEL_LOAD_FAILED\]/);
    const piped = await runLode(["run", `file:${FIXTURE}`, "-t", "0", "-n", "40"], {
      store,
      input: "Once upon a time\n",
    });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, STORY + "\n");
  } finally {
    await Deno.remove(store, { recursive: true });
  }
});

Deno.test("lode run --json: the whole event sequence matches the schemas; --stop ends at the stop text", async () => {
  await withTempDir(async (store) => {
    const r = await runLode(
      ["run", `file:${FIXTURE}`, "Once upon a time", "-t", "0", "-n", "40", "--json", "--stop", "Lily"],
      { store },
    );
    assert.equal(r.code, 0, r.stderr);
    const kinds = r.events.map((e) => {
      if (e.event === "status") return StatusLine.parse(e).status;
      return InferenceEvent.parse(e).event;
    });
    assert.deepEqual(kinds.slice(0, 3), ["loading_model", "loading_model", "capabilities"]);
    assert.deepEqual([...new Set(kinds.slice(3, -1))], ["token"]);
    assert.equal(kinds.at(-1), "done");
    const text = r.events.filter((e) => e.event === "token").map((e) => e.text).join("");
    // Matched on the text: everything before "Lily" (its leading space included), nothing of it.
    assert.equal(text, ", there was a little girl named ");
    const done = DoneEvent.parse(r.events.at(-1));
    assert.equal(done.stop_reason, "stop");
    assert.ok(done.usage.promptTokens > 0 && done.usage.timeToFirstTokenMs !== null);
  });
});

Deno.test("lode run: --system goes before the prompt of a model without a chat template; --verbose reports speeds", async () => {
  await withTempDir(async (store) => {
    const base = ["run", `file:${FIXTURE}`, "-t", "0", "-n", "20", "--threads", "1"];
    const system = await runLode([...base, "--system", "A story.", "Once upon a time", "--verbose"], {
      store,
    });
    const joined = await runLode([...base, "A story.\n\nOnce upon a time"], { store });
    assert.equal(system.code, 0, system.stderr);
    assert.equal(system.stdout, joined.stdout);
    assert.match(
      system.stderr,
      /^load: \d+ ms \(llama, n_ctx \d+, 1 thread, cpu; no chat template: text continuation\)$/m,
    );
    assert.match(system.stderr, /^prompt: \d+ tokens in [\d.]+ ms \(\d+ tokens\/s\)$/m);
    assert.match(system.stderr, /^generated: 20 tokens at [\d.]+ tokens\/s \(end: max_tokens, \d+ ms\)$/m);
  });
});

Deno.test("lode run on a model with a chat template: answers through it; --raw continues; --json-schema output parses", async () => {
  await withTempDir(async (dir) => {
    const model = await writeChatModel(`${dir}/chat.gguf`);
    const store = `${dir}/store`;
    const base = ["run", `file:${model}`, "Hello", "-t", "0", "-n", "16", "--verbose"];
    const chat = await runLode([...base, "--system", "Be brief."], { store });
    assert.equal(chat.code, 0, chat.stderr);
    assert.match(chat.stderr, /; the model's chat template\)$/m);
    // The ChatML rendering of system + user + the opened assistant turn is far longer than "Hello".
    const promptTokens = Number(/^prompt: (\d+) tokens/m.exec(chat.stderr)?.[1]);
    assert.ok(promptTokens > 20, chat.stderr);
    const raw = await runLode([...base, "--raw"], { store });
    assert.equal(raw.code, 0, raw.stderr);
    assert.match(raw.stderr, /; --raw: text continuation\)$/m);
    assert.ok(Number(/^prompt: (\d+) tokens/m.exec(raw.stderr)?.[1]) < 10, raw.stderr);

    const schema = {
      type: "object",
      properties: {
        name: { type: "string" },
        age: { type: "integer" },
        tags: { type: "array", items: { enum: ["a", "b"] } },
      },
      required: ["name", "age", "tags"],
    };
    await Deno.writeTextFile(`${dir}/schema.json`, JSON.stringify(schema));
    for (const m of [model, FIXTURE]) {
      const r = await runLode(
        [
          "run",
          `file:${m}`,
          "Describe a person",
          "-t",
          "0",
          "-n",
          "200",
          "--json-schema",
          `${dir}/schema.json`,
        ],
        { store },
      );
      assert.equal(r.code, 0, r.stderr);
      const value = JSON.parse(r.stdout);
      assert.equal(typeof value.name, "string", r.stdout);
      assert.ok(Number.isInteger(value.age), r.stdout);
      assert.ok(
        Array.isArray(value.tags) && value.tags.every((t: string) => t === "a" || t === "b"),
        r.stdout,
      );
    }
  });
});

Deno.test("lode run: bad flag values exit 2 with a message naming the flag, before anything loads", async () => {
  await withTempDir(async (store) => {
    const cases: [string[], RegExp][] = [
      [["--temperature", "hot"], /error\[USAGE\]: --temperature must be a number/],
      [["--max-tokens", "0"], /error\[USAGE\]: --max-tokens must be a whole number 1 or more/],
      [["--threads", "0"], /error\[USAGE\]: --threads/],
      [["--ctx-size", "big"], /error\[USAGE\]: --ctx-size/],
      [["--gpu", "cuda"], /error\[USAGE\]: --gpu must be auto, off or a number of layers/],
      [["--top-p", "2"], /error\[USAGE\]: --top-p must be a number from 0 to 1/],
      [["--seed", "-1"], /error\[USAGE\]: --seed/],
      [["--repeat-penalty", "0"], /error\[USAGE\]: --repeat-penalty/],
      [["--stop", ""], /error\[USAGE\]: --stop needs a non-empty text/],
      [["--top-k"], /error\[USAGE\]: option --top-k needs a value/],
    ];
    for (const [flags, message] of cases) {
      const r = await runLode(["run", "no-such-model", "hi", ...flags], { store });
      assert.equal(r.code, 2, flags.join(" "));
      assert.match(r.stderr, message, flags.join(" "));
    }
    const noSchema = await runLode(["run", "no-such-model", "hi", "--json-schema", `${store}/missing.json`], {
      store,
    });
    assert.equal(noSchema.code, 3);
    assert.match(noSchema.stderr, /error\[FILE_NOT_FOUND\]: --json-schema .*missing\.json: no such file/);
    await Deno.writeTextFile(`${store}/bad.json`, "{ nope");
    const bad = await runLode([
      "run",
      `file:${FIXTURE}`,
      "hi",
      "--json-schema",
      `${store}/bad.json`,
      "--json",
    ], { store });
    assert.equal(bad.code, 2);
    assert.deepEqual(
      [
        bad.events.at(-1)?.event,
        bad.events.at(-1)?.code,
        (bad.events.at(-1)?.details as { path: string }).path,
      ],
      ["error", "SCHEMA_INVALID", `${store}/bad.json`],
    );
  });
});

Deno.test("lode run: a context that cannot fit in RAM is refused before loading (exit 10), saying what fits", async () => {
  await withTempDir(async (store) => {
    // 2e9 tokens of KV cache is terabytes on any machine: the preflight refuses it, llama.cpp never allocates.
    const r = await runLode(["run", `file:${FIXTURE}`, "hi", "--ctx-size", "2000000000", "--json"], {
      store,
    });
    assert.equal(r.code, 10, r.stderr);
    const error = r.events.find((e) => e.event === "error")!;
    assert.equal(error.code, "INSUFFICIENT_MEMORY");
    assert.match(String(error.message), /GiB is available; lower --ctx-size to \d+ or less/);
    assert.ok(
      !r.events.some((e) => e.status === "loading_model" && e.phase === "mmap"),
      "nothing was mapped",
    );
    const details = error.details as Record<string, number>;
    assert.ok(Number(details.needed_bytes) > Number(details.available_bytes));
  });
});
