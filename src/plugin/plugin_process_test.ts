import assert from "node:assert/strict";
import { isLodeError, type LodeError } from "../errors.ts";
import { readManifest } from "./manifest.ts";
import { PluginProcess, type ProcessOptions } from "./plugin_process.ts";
import { sandboxCommand } from "./sandbox.ts";

const FIXTURES = new URL("../../tests/fixtures/plugins/", import.meta.url).pathname;
const HOST_ENV = { HOME: Deno.env.get("HOME") ?? "/root", DENO_DIR: Deno.env.get("DENO_DIR") ?? "" };

async function start(name: string, options: Partial<ProcessOptions> = {}, env: Record<string, string> = {}) {
  const manifest = await readManifest(FIXTURES + name);
  const hostEnv = Object.fromEntries(Object.entries({ ...HOST_ENV, ...env }).filter(([, v]) => v !== ""));
  const command = sandboxCommand(manifest, { deno: Deno.execPath(), env: hostEnv });
  return await PluginProcess.start({ name: manifest.name, command, ...options });
}

async function failure(p: Promise<unknown>): Promise<LodeError> {
  const e = await p.then(() => assert.fail("expected a failure"), (e) => e);
  assert.ok(isLodeError(e), `a LodeError, got ${e}`);
  return e;
}

const ref = (rest: string, scheme = "mirror") => ({ reference: `${scheme}:${rest}`, scheme, rest });

Deno.test("a registry plugin says hello, resolves with progress, and shuts down", async () => {
  const plugin = await start("mirror");
  assert.equal(plugin.protocol, 1);
  assert.equal(plugin.hello?.name, "mirror");
  assert.deepEqual(plugin.hello?.hooks, ["registry", "sink"]);
  const progress: unknown[] = [];
  const plan = await plugin.call("registry.resolve", ref("tiny"), { onProgress: (d) => progress.push(d) });
  assert.deepEqual(progress, [{ step: "index" }]);
  assert.equal((plan as { name: string }).name, "tiny");
  await plugin.shutdown();
  assert.equal(plugin.failure, null);
});

Deno.test("a call the plugin fails fails alone; the process keeps serving", async () => {
  const plugin = await start("mirror");
  const e = await failure(plugin.call("registry.resolve", ref("missing")));
  assert.equal(e.code, "PLUGIN_FAILED");
  assert.equal(e.details.plugin, "mirror");
  assert.equal(e.details.hook, "registry.resolve");
  assert.match(e.message, /mirror has no model missing/);
  const unknown = await failure(plugin.call("backend.load", { path: "/x" }));
  assert.equal(unknown.details.kind, "unknown_hook");
  assert.ok(plugin.alive);
  assert.equal((await plugin.call("registry.resolve", ref("tiny")) as { name: string }).name, "tiny");
  await plugin.shutdown();
});

Deno.test("a call larger than the plugin reads (no large_frames): FRAME_TOO_LARGE, nothing sent, the process serves on", async () => {
  const plugin = await start("mirror");
  assert.ok(!plugin.features.has("large_frames"));
  const e = await failure(plugin.call("registry.resolve", ref("x".repeat(17 * 1024 * 1024))));
  assert.equal(e.code, "FRAME_TOO_LARGE");
  assert.equal(e.details.plugin, "mirror");
  assert.equal(e.details.limit, 16 * 1024 * 1024);
  assert.match(e.message, /does not list the large_frames feature/);
  assert.ok(plugin.alive);
  assert.equal((await plugin.call("registry.resolve", ref("tiny")) as { name: string }).name, "tiny");
  await plugin.shutdown();
  assert.equal(plugin.failure, null);
});

Deno.test("a cancelled call is answered, as cancelled, and the process keeps serving", async () => {
  const plugin = await start("mirror");
  const controller = new AbortController();
  const call = plugin.call("registry.resolve", ref("slow"), { signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  const e = await failure(call);
  assert.equal(e.code, "CANCELLED");
  assert.equal(e.details.plugin, "mirror");
  assert.ok(plugin.alive);
  assert.equal((await plugin.call("registry.resolve", ref("tiny")) as { name: string }).name, "tiny");
  await plugin.shutdown();
});

Deno.test("a plugin that exits at start: PLUGIN_FAILED with its exit code and log", async () => {
  const e = await failure(start("exits_at_start"));
  assert.equal(e.code, "PLUGIN_FAILED");
  assert.equal(e.details.plugin, "exits_at_start");
  assert.equal(e.details.exit_code, 3);
  assert.match(String(e.details.log), /cannot read my configuration/);
  assert.match(e.message, /exited with code 3 before its hello/);
});

Deno.test("a plugin that never says hello: PLUGIN_TIMEOUT, killed", async () => {
  const e = await failure(start("no_hello", { helloTimeoutMs: 500 }));
  assert.equal(e.code, "PLUGIN_TIMEOUT");
  assert.equal(e.details.hook, "hello");
});

Deno.test("a plugin speaking another protocol version: PLUGIN_PROTOCOL naming both", async () => {
  const e = await failure(start("other_version"));
  assert.equal(e.code, "PLUGIN_PROTOCOL");
  assert.deepEqual(e.details.theirs, [99]);
  assert.match(e.message, /speaks protocol 99; this lode speaks 1/);
});

Deno.test("a plugin writing a line that is not JSON: PLUGIN_PROTOCOL, killed, running calls fail", async () => {
  const plugin = await start("non_json");
  const e = await failure(plugin.call("registry.resolve", ref("tiny", "non-json")));
  assert.equal(e.code, "PLUGIN_PROTOCOL");
  assert.equal(e.details.hook, "registry.resolve");
  assert.match(e.message, /not JSON: "resolving mirror:tiny/);
  await plugin.exited;
  assert.ok(!plugin.alive);
  assert.equal((await failure(plugin.call("registry.resolve", ref("x")))).code, "PLUGIN_PROTOCOL");
});

Deno.test("a plugin writing a 100 MB line: PLUGIN_PROTOCOL at the frame limit", async () => {
  const plugin = await start("huge_line");
  const e = await failure(plugin.call("registry.resolve", ref("tiny", "huge-line")));
  assert.equal(e.code, "PLUGIN_PROTOCOL");
  assert.equal(e.details.limit, 16 * 1024 * 1024);
  await plugin.exited;
});

Deno.test("a plugin answering an id no call has: PLUGIN_PROTOCOL", async () => {
  const plugin = await start("unknown_id");
  const e = await failure(plugin.call("registry.resolve", ref("tiny", "unknown-id")));
  assert.equal(e.code, "PLUGIN_PROTOCOL");
  assert.match(e.message, /answered id 1001, which no call has/);
  await plugin.exited;
});

Deno.test("a plugin hanging inside a call: PLUGIN_TIMEOUT, killed", async () => {
  const plugin = await start("hangs", { callTimeoutMs: 300 });
  const e = await failure(plugin.call("registry.resolve", ref("tiny", "hangs")));
  assert.equal(e.code, "PLUGIN_TIMEOUT");
  assert.equal(e.details.hook, "registry.resolve");
  await plugin.exited;
});

Deno.test("a hanging plugin that does not answer a cancel: the caller gets CANCELLED, the plugin is killed", async () => {
  const plugin = await start("hangs", { cancelGraceMs: 200 });
  const controller = new AbortController();
  const call = plugin.call("registry.resolve", ref("tiny", "hangs"), { signal: controller.signal });
  controller.abort();
  const e = await failure(call);
  assert.equal(e.code, "PLUGIN_TIMEOUT");
  assert.match(e.message, /did not answer a cancelled call/);
  await plugin.exited;
});

Deno.test("a plugin dying in the middle of a call: PLUGIN_FAILED after its progress, with its log", async () => {
  const plugin = await start("dies_mid_stream");
  const progress: unknown[] = [];
  const e = await failure(
    plugin.call("registry.resolve", ref("tiny", "dies-mid-stream"), { onProgress: (d) => progress.push(d) }),
  );
  assert.equal(e.code, "PLUGIN_FAILED");
  assert.equal(e.details.exit_code, 9);
  assert.equal(e.details.hook, "registry.resolve");
  assert.match(String(e.details.log), /out of memory/);
  assert.equal(progress.length, 2);
});

Deno.test("an undeclared network access: PLUGIN_DENIED naming net and the host", async () => {
  const plugin = await start("sandboxed");
  const e = await failure(plugin.call("registry.resolve", ref("net=4567", "sandboxed")));
  assert.equal(e.code, "PLUGIN_DENIED");
  assert.equal(e.details.permission, "net");
  assert.equal(e.details.target, "127.0.0.1:4567");
  assert.equal(e.details.plugin, "sandboxed");
  assert.ok(plugin.alive);
  await plugin.shutdown();
});

Deno.test("an undeclared read or write: PLUGIN_DENIED; a declared read works", async () => {
  const plugin = await start("sandboxed");
  const read = await failure(plugin.call("registry.resolve", ref("read=/etc/hostname", "sandboxed")));
  assert.deepEqual([read.code, read.details.permission, read.details.target], [
    "PLUGIN_DENIED",
    "read",
    "/etc/hostname",
  ]);
  const write = await failure(plugin.call("registry.resolve", ref("write=data/out.txt", "sandboxed")));
  assert.deepEqual([write.code, write.details.permission], ["PLUGIN_DENIED", "write"]);
  const ok = await plugin.call("registry.resolve", ref("read=data/note.txt", "sandboxed"));
  assert.equal((ok as { source: { repo: string } }).source.repo, JSON.stringify("declared\n"));
  await plugin.shutdown();
});

Deno.test("HF_TOKEN is not in a plugin's environment; a declared name is", async () => {
  const env = { HF_TOKEN: "hf_secret", MIRROR_TOKEN: "m1", OTHER: "x" };
  const plugin = await start("sandboxed", {}, env);
  const hf = await failure(plugin.call("registry.resolve", ref("env=HF_TOKEN", "sandboxed")));
  assert.deepEqual([hf.code, hf.details.permission, hf.details.target], ["PLUGIN_DENIED", "env", "HF_TOKEN"]);
  const token = await plugin.call("registry.resolve", ref("env=MIRROR_TOKEN", "sandboxed"));
  assert.equal((token as { source: { repo: string } }).source.repo, JSON.stringify("m1"));
  await plugin.shutdown();
  // An executable plugin has no Deno sandbox: its environment itself holds only the declared names.
  const exec = await start("env_dump", {}, { ...env, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" });
  const names = String(await exec.call("registry.resolve", ref("x", "env-dump"))).trim().split(" ");
  assert.ok(names.includes("MIRROR_TOKEN"), names.join(","));
  assert.ok(!names.includes("HF_TOKEN"), names.join(","));
  assert.ok(!names.includes("OTHER"), names.join(","));
  await exec.shutdown();
});
