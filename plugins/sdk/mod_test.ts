import assert from "node:assert/strict";
import { type PluginDefinition, PluginError, serve, wireError } from "./mod.ts";

/** Runs `plugin` on in-memory streams: send host frames, read the plugin's frames. */
function harness(plugin: PluginDefinition) {
  const input = new TransformStream<Uint8Array, Uint8Array>();
  const frames: Record<string, unknown>[] = [];
  let exitCode: number | null = null;
  let buffered = "";
  const output = new WritableStream<Uint8Array>({
    write(chunk) {
      buffered += new TextDecoder().decode(chunk);
      let nl: number;
      while ((nl = buffered.indexOf("\n")) !== -1) {
        frames.push(JSON.parse(buffered.slice(0, nl)));
        buffered = buffered.slice(nl + 1);
      }
    },
  });
  const served = serve(plugin, { input: input.readable, output, exit: (code) => void (exitCode = code) });
  const writer = input.writable.getWriter();
  const send = (frame: unknown) => writer.write(new TextEncoder().encode(JSON.stringify(frame) + "\n"));
  const answer = async (id: number) => {
    while (!frames.some((f) => f.id === id && (f.type === "result" || f.type === "error"))) {
      await new Promise((r) => setTimeout(r, 1));
    }
    return frames.find((f) => f.id === id && (f.type === "result" || f.type === "error"))!;
  };
  return { frames, send, answer, served, exitCode: () => exitCode };
}

const plan = (name: string) => ({
  name,
  reference: `t:${name}`,
  source: { registry: "t", repo: "", revision: "" },
  files: [{
    role: "model",
    filename: "m.gguf",
    urls: ["https://t.test/m.gguf"],
    sha256: "0".repeat(64),
    sizeBytes: 1,
  }],
});

Deno.test("the SDK says hello, answers calls with their progress, and exits on exit", async () => {
  const h = harness({
    name: "t",
    version: "2.0.0",
    registry: {
      schemes: ["t"],
      resolve: (ref, context) => (context.progress({ at: 1 }), Promise.resolve(plan(ref.rest))),
    },
  });
  await h.send({ type: "hello", protocol: [1], api_version: 1, features: [], host: "lode" });
  assert.deepEqual(h.frames[0], {
    type: "hello",
    protocol: [1],
    api_version: 1,
    name: "t",
    version: "2.0.0",
    hooks: ["registry"],
    features: ["cancel", "progress"],
  });
  await h.send({
    type: "call",
    id: 1,
    hook: "registry.resolve",
    params: { reference: "t:a", scheme: "t", rest: "a" },
  });
  assert.deepEqual(await h.answer(1), { type: "result", id: 1, value: plan("a") });
  assert.deepEqual(h.frames.find((f) => f.type === "progress"), { type: "progress", id: 1, data: { at: 1 } });
  await h.send({ type: "call", id: 2, hook: "backend.probe", params: { path: "/x" } });
  assert.equal(((await h.answer(2)).error as { kind: string }).kind, "unknown_hook");
  await h.send({ type: "call", id: 3, hook: "shutdown", params: null });
  assert.deepEqual(await h.answer(3), { type: "result", id: 3, value: null });
  await h.send({ type: "exit" });
  await h.served;
  assert.equal(h.exitCode(), 0);
});

Deno.test("a cancelled call is answered as cancelled", async () => {
  const h = harness({
    name: "t",
    registry: {
      schemes: ["t"],
      resolve: (_ref, context) =>
        new Promise((_, reject) =>
          context.signal.addEventListener("abort", () => reject(new Error("stopped")))
        ),
    },
  });
  await h.send({
    type: "call",
    id: 7,
    hook: "registry.resolve",
    params: { reference: "t:a", scheme: "t", rest: "a" },
  });
  await h.send({ type: "cancel", id: 7 });
  assert.deepEqual((await h.answer(7)).error, { kind: "cancelled", message: "stopped" });
  await h.send({ type: "exit" });
  await h.served;
});

Deno.test("a host speaking no protocol version of the SDK: it exits with code 3", async () => {
  const h = harness({ name: "t" });
  await h.send({ type: "hello", protocol: [42], api_version: 1, features: [], host: "lode" });
  await h.served;
  assert.equal(h.exitCode(), 3);
});

Deno.test("wireError: a sandbox refusal is denied with its permission and target", () => {
  const e = new Deno.errors.NotCapable(
    'Requires net access to "127.0.0.1:4567", run again with the --allow-net flag',
  );
  assert.deepEqual(wireError(e, false), {
    kind: "denied",
    message: e.message,
    permission: "net",
    target: "127.0.0.1:4567",
  });
  assert.deepEqual(wireError(new Error("boom"), false), { kind: "failed", message: "boom" });
  assert.deepEqual(wireError(new Error("boom"), true), { kind: "cancelled", message: "boom" });
});

Deno.test("wireError: a PluginError carries its catalogue code and details", () => {
  assert.deepEqual(
    wireError(new PluginError("USAGE", "maxTokens must be at least 1", { field: "maxTokens" }), false),
    {
      kind: "failed",
      message: "maxTokens must be at least 1",
      code: "USAGE",
      details: { field: "maxTokens" },
    },
  );
  assert.deepEqual(wireError(new Error("boom"), false), { kind: "failed", message: "boom" });
});
