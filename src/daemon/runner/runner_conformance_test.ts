// The runner as the backend plugin it is, through the plugin protocol with real runner processes and the
// real model: the inference layer's backend conformance suite (every load a runner of its own), and the
// plugin conformance suite's hello and backend parts as `lode plugin test` runs them on a plugin.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { writeChatModel } from "../../../tests/support/chat_model.ts";
import { childPids } from "../../../tests/support/child_pids.ts";
import { backendConformance } from "../../inference/backend_conformance.ts";
import { backendConformance as pluginBackendSuite } from "../../plugin/conformance/backend_conformance.ts";
import { type Check, check, codeOf, expect, FAULT_CODES } from "../../plugin/conformance/check.ts";
import { PROTOCOL_VERSIONS } from "../../plugin/api.ts";
import { createRunnerBackend } from "./runner_backend.ts";
import { RunnerClient } from "./runner_client.ts";
import { runnerCommand } from "./runner_command.ts";
import { runnerHooks } from "./runner_hooks.ts";
import { RUNNER_FEATURES } from "./runner_protocol.ts";

const MODEL = fileURLToPath(new URL("../../../tests/fixtures/stories260K.gguf", import.meta.url));
// A ChatML chat model for the tool steps, removed when the module unloads.
const dir = await Deno.makeTempDir({ prefix: "lode-runner-conformance-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const CHAT = await writeChatModel(`${dir}/chat.gguf`);

// A process boundary (cancel out, the answer back) on a shared 2-core machine: more room than in process.
backendConformance("llamacpp in runner processes", () => createRunnerBackend(), {
  model: MODEL,
  toolsModel: CHAT,
  abortWithinMs: 1000,
});

Deno.test("the plugin conformance suite's hello and backend parts pass against a runner", async () => {
  const client = await RunnerClient.start(runnerCommand(), { label: "conformance" });
  const healthy = () => !client.dead;
  const checks: Check[] = [];
  checks.push(
    await check("starts and says hello with a protocol lode speaks, offering every runner feature", () => {
      expect(client.hello.protocol.some((v) => PROTOCOL_VERSIONS.includes(v)), "no common protocol");
      expect(client.hello.hooks.includes("backend"), `hooks ${client.hello.hooks}`);
      expect(RUNNER_FEATURES.every((f) => client.features.includes(f)), `features ${client.features}`);
      return Promise.resolve();
    }, "hello"),
    await check("answers an unknown hook with an error, not a fault", async () => {
      const code = await codeOf(() => client.call("conformance.unknown", null));
      expect(code !== null && !FAULT_CODES.includes(code) && code !== "RUNNER_CRASHED", `answered ${code}`);
      expect(healthy(), "the runner died");
    }, "hello"),
  );
  checks.push(
    ...await pluginBackendSuite({ name: "runner", backend: runnerHooks(client) }, { model: MODEL, healthy }),
  );
  checks.push(
    await check("shutdown, then exit", async () => {
      const exit = await client.close();
      expect(!exit.crashed && exit.code === 0, `exited ${JSON.stringify(exit)}`);
    }, "hello"),
  );
  assert.deepEqual(checks.filter((c) => !c.ok), []);
  assert.equal(checks.length, 6);
  assert.deepEqual(await childPids(), []);
});
