import assert from "node:assert/strict";
import { isLodeError, type LodeError } from "../errors.ts";
import { readManifest } from "./manifest.ts";
import { SupervisedPlugin, type SupervisorOptions } from "./plugin_supervisor.ts";
import { sandboxCommand } from "./sandbox.ts";

const FIXTURES = new URL("../../tests/fixtures/plugins/", import.meta.url).pathname;

async function supervised(name: string, options: SupervisorOptions = {}) {
  const manifest = await readManifest(FIXTURES + name);
  const env = {
    HOME: Deno.env.get("HOME") ?? "/root",
    ...(Deno.env.has("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
  };
  const delays: number[] = [];
  const plugin = new SupervisedPlugin(manifest, {
    command: sandboxCommand(manifest, { deno: Deno.execPath(), env }),
    sleep: (ms) => (delays.push(ms), Promise.resolve()),
    ...options,
  });
  return { plugin, delays };
}

async function failure(p: Promise<unknown>): Promise<LodeError> {
  const e = await p.then(() => assert.fail("expected a failure"), (e) => e);
  assert.ok(isLodeError(e), `a LodeError, got ${e}`);
  return e;
}

const ref = (scheme: string, rest: string) => ({ reference: `${scheme}:${rest}`, scheme, rest });

Deno.test("a plugin that died is started again, after its backoff, on the next call", async () => {
  const { plugin, delays } = await supervised("flaky", { backoffMs: [10, 20] });
  assert.equal((await plugin.call("registry.resolve", ref("flaky", "a")) as { name: string }).name, "a");
  const e = await failure(plugin.call("registry.resolve", ref("flaky", "crash")));
  assert.equal(e.code, "PLUGIN_FAILED");
  assert.equal(e.details.plugin, "flaky");
  assert.equal(plugin.failures, 1);
  assert.equal((await plugin.call("registry.resolve", ref("flaky", "b")) as { name: string }).name, "b");
  assert.deepEqual(delays, [10]);
  assert.equal(plugin.starts, 2);
  assert.equal(plugin.failures, 0, "a successful call ends the run of faults");
  await plugin.shutdown();
});

Deno.test("a plugin that fails at every start is disabled after maxFailures: PLUGIN_DISABLED, no more starts", async () => {
  const { plugin, delays } = await supervised("exits_at_start", { backoffMs: [5, 10], maxFailures: 3 });
  for (let i = 0; i < 3; i++) {
    const e = await failure(plugin.call("registry.resolve", ref("exits-at-start", "x")));
    assert.equal(e.code, i < 2 ? "PLUGIN_FAILED" : "PLUGIN_DISABLED", `call ${i}: ${e.message}`);
  }
  const e = await failure(plugin.call("registry.resolve", ref("exits-at-start", "x")));
  assert.equal(e.code, "PLUGIN_DISABLED");
  assert.equal(e.details.plugin, "exits_at_start");
  assert.equal(e.details.last_code, "PLUGIN_FAILED");
  assert.match(e.message, /disabled after 3 faults in a row/);
  assert.equal(plugin.starts, 3);
  assert.deepEqual(delays, [5, 10]);
});

Deno.test("an error the plugin answers is not a fault: no restart, no count", async () => {
  const { plugin } = await supervised("mirror");
  for (let i = 0; i < 4; i++) {
    assert.equal(
      (await failure(plugin.call("registry.resolve", ref("mirror", "missing")))).code,
      "PLUGIN_FAILED",
    );
  }
  assert.equal(plugin.failures, 0);
  assert.equal(plugin.starts, 1);
  await plugin.shutdown();
});

Deno.test("a plugin that hangs is killed on its timeout and the next call gets a fresh process", async () => {
  const { plugin } = await supervised("hangs", { callTimeoutMs: 200, backoffMs: [0] });
  assert.equal((await failure(plugin.call("registry.resolve", ref("hangs", "x")))).code, "PLUGIN_TIMEOUT");
  assert.equal((await failure(plugin.call("registry.resolve", ref("hangs", "x")))).code, "PLUGIN_TIMEOUT");
  assert.equal(plugin.starts, 2);
  await plugin.shutdown();
});
