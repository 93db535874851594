import assert from "node:assert/strict";
import { isLodeError, type LodeError } from "../errors.ts";
import type { Envelope } from "../events/envelope.ts";
import type { PlanDescriptor, Plugin } from "./api.ts";
import { readManifest } from "./manifest.ts";
import { PluginDriver, splitReference } from "./plugin_driver.ts";
import { SupervisedPlugin, type SupervisorOptions } from "./plugin_supervisor.ts";
import { remotePlugin } from "./remote_plugin.ts";
import { sandboxCommand } from "./sandbox.ts";

const FIXTURES = new URL("../../tests/fixtures/plugins/", import.meta.url).pathname;

async function remote(name: string, options: SupervisorOptions = {}, env: Record<string, string> = {}) {
  const manifest = await readManifest(FIXTURES + name);
  const hostEnv = { HOME: Deno.env.get("HOME") ?? "/root", ...env };
  if (Deno.env.has("DENO_DIR")) Object.assign(hostEnv, { DENO_DIR: Deno.env.get("DENO_DIR")! });
  return new SupervisedPlugin(manifest, {
    command: sandboxCommand(manifest, { deno: Deno.execPath(), env: hostEnv }),
    sleep: () => Promise.resolve(),
    ...options,
  });
}

/** Registers `supervised` with `driver`, its hooks calls on its process. */
function registerRemote(driver: PluginDriver, supervised: SupervisedPlugin): void {
  driver.registerRemote(supervised, remotePlugin(supervised));
}

async function failure(p: Promise<unknown>): Promise<LodeError> {
  const e = await p.then(() => assert.fail("expected a failure"), (e) => e);
  assert.ok(isLodeError(e), `a LodeError, got ${e}`);
  return e;
}

function plan(name: string, registry: string): PlanDescriptor {
  return {
    name,
    reference: `${registry}:${name}`,
    source: { registry, repo: "", revision: "" },
    files: [{
      role: "model",
      filename: "m.gguf",
      urls: ["https://t.test/m.gguf"],
      sha256: "0".repeat(64),
      sizeBytes: 1,
    }],
  };
}

const envelope = {
  v: 1,
  seq: 1,
  time: 0,
  source: "stream",
  event: { event: "dropped", count: 1, first_seq: 1, last_seq: 1 },
} as unknown as Envelope;

Deno.test("splitReference: the scheme and the rest", () => {
  assert.deepEqual(splitReference("mirror:tiny@v1"), {
    reference: "mirror:tiny@v1",
    scheme: "mirror",
    rest: "tiny@v1",
  });
  assert.equal(splitReference("tiny"), null);
});

Deno.test("a built-in and an out-of-process registry resolve through the same driver", async () => {
  const driver = new PluginDriver();
  driver.register({
    name: "table",
    registry: { schemes: ["table"], resolve: (ref) => Promise.resolve(plan(ref.rest, "table")) },
  });
  registerRemote(driver, await remote("mirror", {}, { MIRROR_TOKEN: "t0k" }));
  assert.equal((await driver.resolve("table:a")).source.registry, "table");
  const progress: unknown[] = [];
  const mirrored = await driver.resolve("mirror:tiny", {
    signal: new AbortController().signal,
    progress: (d) => progress.push(d),
  });
  assert.deepEqual(mirrored.files[0]!.urls, [
    "https://a.mirror.test/tiny.gguf",
    "https://b.mirror.test/tiny.gguf",
  ]);
  assert.deepEqual(progress, [{ step: "index" }]);
  assert.deepEqual(await driver.credentials("a.mirror.test"), { headers: { authorization: "Bearer t0k" } });
  assert.equal(await driver.credentials("elsewhere.test"), null);
  const none = await failure(driver.resolve("nope:x"));
  assert.equal(none.code, "INVALID_REF");
  assert.deepEqual(none.details.schemes, ["table", "mirror"]);
  await driver.close();
});

Deno.test("an answer that breaks its schema is PLUGIN_PROTOCOL naming the field", async () => {
  const driver = new PluginDriver();
  registerRemote(driver, await remote("mirror"));
  const e = await failure(driver.resolve("mirror:bad-plan"));
  assert.equal(e.code, "PLUGIN_PROTOCOL");
  assert.equal(e.details.plugin, "mirror");
  assert.equal(e.details.hook, "registry.resolve");
  assert.match(e.message, /reference/);
  await driver.close();
});

Deno.test("first: the first plugin that answers; a failure is tagged with its plugin and hook", async () => {
  const driver = new PluginDriver();
  const calls: string[] = [];
  const backend = (name: string, ok: boolean): Plugin => ({
    name,
    backend: {
      name,
      probe:
        () => (calls.push(name),
          Promise.resolve(ok ? { ok, format: "gguf", architecture: "llama" } : { ok, reason: "no" })),
      load: () => Promise.reject(new Error(`${name} cannot load`)),
    },
  });
  driver.register(backend("a", false));
  driver.register(backend("b", true));
  driver.register(backend("c", true));
  const found = await driver.probe("/m.gguf");
  assert.equal(found?.plugin.name, "b");
  assert.deepEqual(calls, ["a", "b"]);
  const e = await failure(driver.load("/m.gguf"));
  assert.deepEqual([e.code, e.details.plugin, e.details.hook], ["PLUGIN_FAILED", "b", "backend.load"]);
});

Deno.test("registering a second claim of a scheme or a second name is refused", () => {
  const driver = new PluginDriver();
  driver.register({ name: "x", registry: { schemes: ["m"], resolve: () => Promise.reject(new Error()) } });
  assert.throws(
    () =>
      driver.register({
        name: "y",
        registry: { schemes: ["m"], resolve: () => Promise.reject(new Error()) },
      }),
    /both claim the scheme m/,
  );
  assert.throws(() => driver.register({ name: "x" }), /two plugins are named x/);
});

Deno.test("parallel sinks: one throwing or hung does not hold back the others; failures are reported, tagged", async () => {
  const failures: LodeError[] = [];
  const driver = new PluginDriver({ onFailure: (e) => failures.push(e) });
  const got: number[] = [];
  const sink = (name: string, event: (e: Envelope) => void | Promise<void>): Plugin => ({
    name,
    sink: { name, event, close: () => Promise.resolve() },
  });
  driver.register(sink("hung", () => new Promise(() => {})));
  driver.register(sink("throws", () => {
    throw new Error("disk full");
  }));
  driver.register(sink("good", (e) => void got.push(e.seq)));
  driver.publish(envelope);
  assert.deepEqual(got, [1], "the good sink has the event at once");
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(failures.map((e) => [e.code, e.details.plugin, e.details.hook]), [
    ["PLUGIN_FAILED", "throws", "sink.event"],
  ]);
  assert.match(failures[0]!.message, /disk full/);
});

Deno.test("an out-of-process sink receives events; a faulty plugin fails alone and the driver keeps serving", async () => {
  const failures: LodeError[] = [];
  const driver = new PluginDriver({ onFailure: (e) => failures.push(e) });
  const mirror = await remote("mirror");
  registerRemote(driver, mirror);
  registerRemote(driver, await remote("hangs", { callTimeoutMs: 200 }));
  driver.publish(envelope);
  const e = await failure(driver.resolve("hangs:x"));
  const process = mirror.process!;
  assert.deepEqual([e.code, e.details.plugin], ["PLUGIN_TIMEOUT", "hangs"]);
  assert.equal((await driver.resolve("mirror:tiny")).name, "tiny");
  assert.deepEqual(await driver.close(), []);
  assert.match(process.log.text(), /mirror: 1 events/);
});

Deno.test("an out-of-process backend: probe, load, a streamed generation, embed, tokenize, close", async () => {
  const driver = new PluginDriver();
  registerRemote(driver, await remote("echo_backend"));
  assert.equal(await driver.probe("/m.gguf"), null);
  const session = await driver.load("/m.echo");
  assert.equal(session.capabilities.backend, "echo");
  assert.equal(session.info.architecture, "parrot");
  const chunks: unknown[] = [];
  const context = { signal: new AbortController().signal, progress: (d: unknown) => chunks.push(d) };
  const result = await session.generate("once upon a time", {}, context);
  assert.deepEqual(chunks, [{ text: "once " }, { text: "upon " }, { text: "a " }, { text: "time " }]);
  assert.equal(result.stopReason, "eos");
  assert.equal(result.usage.generatedTokens, 4);
  assert.deepEqual(await session.embed(["ab"], {}, context), [[2, 1]]);
  assert.deepEqual(await session.tokenize("hi", context), [104, 105]);
  assert.equal(await session.detokenize([104, 105], context), "hi");
  await session.close();
  const missing = await failure(driver.load("/m.gguf"));
  assert.equal(missing.code, "MODEL_LOAD_FAILED");
  await driver.close();
});
