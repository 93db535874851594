/**
 * `lode plugin test DIR`'s engine: starts the plugin of a manifest in its sandbox and runs the hello
 * suite, then the suite of each hook group its manifest lists, then shutdown.
 *
 * @example
 * ```ts
 * import { readManifest } from "../manifest.ts";
 * import { pluginConformance } from "./run_conformance.ts";
 * import { SupervisedPlugin } from "../plugin_supervisor.ts";
 * const manifest = await readManifest("plugins/examples/mirror_registry");
 * const checks = await pluginConformance(new SupervisedPlugin(manifest, { callTimeoutMs: 10_000 }), {});
 * ```
 * @module
 */
import { remotePlugin } from "../remote_plugin.ts";
import type { SupervisedPlugin } from "../plugin_supervisor.ts";
import { backendConformance } from "./backend_conformance.ts";
import type { Check } from "./check.ts";
import { helloConformance, shutdownConformance } from "./hello_conformance.ts";
import { registryConformance } from "./registry_conformance.ts";
import { sinkConformance } from "./sink_conformance.ts";

export type { Check };

/** Inputs of {@link pluginConformance}. */
export interface ConformanceOptions {
  /** References a registry must resolve. */
  refs?: readonly string[];
  /** A model file a backend must load. */
  model?: string;
}

/** Every suite of `supervised`'s hook groups; the process is stopped at the end. */
export async function pluginConformance(
  supervised: SupervisedPlugin,
  options: ConformanceOptions,
): Promise<Check[]> {
  const healthy = () => supervised.failures === 0 && supervised.disabledBy === null;
  const plugin = remotePlugin(supervised, { inferenceTimeoutMs: 60_000 });
  const checks = await helloConformance(supervised);
  try {
    if (!checks.every((c) => c.ok)) return checks;
    const hooks = supervised.manifest.hooks;
    if (hooks.includes("registry")) {
      checks.push(...await registryConformance(plugin, { refs: options.refs, healthy }));
    }
    if (hooks.includes("backend")) {
      checks.push(...await backendConformance(plugin, { model: options.model, healthy }));
    }
    // Last: a sink's close stops its process.
    if (hooks.includes("sink")) checks.push(...await sinkConformance(plugin, healthy));
  } finally {
    checks.push(await shutdownConformance(supervised));
  }
  return checks;
}
