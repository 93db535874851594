/**
 * The hello suite of an out-of-process plugin: its process starts and both sides say hello (with a
 * protocol version both speak), it answers a hook it does not know with an error rather than a fault, and
 * `shutdown` then `exit` stop it.
 *
 * @example
 * ```ts
 * import type { SupervisedPlugin } from "../plugin_supervisor.ts";
 * import { helloConformance } from "./hello_conformance.ts";
 * declare const plugin: SupervisedPlugin;
 * const checks = await helloConformance(plugin);
 * ```
 * @module
 */
import type { SupervisedPlugin } from "../plugin_supervisor.ts";
import { type Check, check, codeOf, expect } from "./check.ts";

/** Runs the hello suite on `plugin` (its process is started by the first call). */
export async function helloConformance(plugin: SupervisedPlugin): Promise<Check[]> {
  const run = (name: string, body: () => Promise<void>) => check(name, body, "hello");
  return [
    await run("starts and says hello with a protocol lode speaks", async () => {
      await plugin.start();
      expect(plugin.process?.alive === true, "the process is not running after its hello");
      expect(plugin.failures === 0, "the start was a fault");
    }),
    await run("answers an unknown hook with an error, not a fault", async () => {
      const code = await codeOf(() => plugin.call("conformance.unknown", null));
      expect(code === "PLUGIN_FAILED", `answered with ${code}`);
      expect(plugin.process?.alive === true, "the process died");
    }),
  ];
}

/** The shutdown check, run last: `shutdown` is answered and the process exits. */
export async function shutdownConformance(plugin: SupervisedPlugin): Promise<Check> {
  return await check("shutdown, then exit", async () => {
    const process = plugin.process;
    await plugin.shutdown();
    expect(process === null || !process.alive, "the process still runs after shutdown");
  }, "hello");
}
