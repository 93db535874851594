/**
 * `lode run` through the real CLI: the real model, real node-llama-cpp, real
 * pull from a loopback HTTPS origin when the model is missing.
 */
import assert from "node:assert/strict";
import { makeTestCa } from "./support/test_ca.ts";
import { startOrigin } from "./support/origin.ts";
import { runLode } from "./support/lode_cli.ts";
import { StatusEvent } from "../src/events/mod.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;
const SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const STORY =
  ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";

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
    const statuses = r.events.filter((e) => "status" in e).map((e) => StatusEvent.parse(e));
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

Deno.test("lode run: unknown model exits 3, a non-GGUF file exits 10, prompt comes from stdin too", async () => {
  const store = await Deno.makeTempDir();
  try {
    const missing = await runLode(["run", "nope", "hi"], { store });
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /error\[MODEL_NOT_FOUND\]/);
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
