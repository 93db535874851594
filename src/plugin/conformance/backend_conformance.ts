/**
 * The backend suite of a plugin: `backend.probe` says no (with a reason) for a file that is not a model
 * and for a missing one, without a fault; with a model file, `backend.load` gives a session that
 * tokenizes and closes. The full generation suite of the inference layer
 * (src/inference/backend_conformance.ts) runs through the backend protocol with a model.
 *
 * @example
 * ```ts
 * import type { Plugin } from "../api.ts";
 * import { backendConformance } from "./backend_conformance.ts";
 * declare const plugin: Plugin;
 * const checks = await backendConformance(plugin, { model: "tests/fixtures/stories260K.gguf" });
 * ```
 * @module
 */
import type { Plugin } from "../api.ts";
import { callContext, type Check, check, codeOf, expect, FAULT_CODES } from "./check.ts";

/** Inputs of {@link backendConformance}. */
export interface BackendSuiteOptions {
  /** A model file the backend can run: `backend.load` is checked with it. */
  model?: string;
  /** A file that is not a model (default: this module's own file). */
  notAModel?: string;
  healthy?: () => boolean;
}

/** Runs the backend suite on `plugin`. */
export async function backendConformance(
  plugin: Plugin,
  options: BackendSuiteOptions = {},
): Promise<Check[]> {
  const run = (name: string, body: () => Promise<void>) => check(name, body, "backend");
  const backend = plugin.backend;
  if (!backend) return [{ suite: "backend", name: "implements backend hooks", ok: false, message: "none" }];
  const sound = () =>
    expect(options.healthy?.() ?? true, "the plugin faulted (its process died or was killed)");
  const notAModel = options.notAModel ?? new URL(import.meta.url).pathname;
  const checks = [
    await run("backend.probe says no for a file that is not a model", async () => {
      const probe = await backend.probe(notAModel, callContext());
      expect(!probe.ok, "it would run a file that is not a model");
      sound();
    }),
    await run("backend.probe answers for a missing file without a fault", async () => {
      const code = await codeOf(() => backend.probe("/nonexistent/conformance.gguf", callContext()));
      expect(code === null || !FAULT_CODES.includes(code), `answered with ${code}`);
      sound();
    }),
  ];
  if (options.model !== undefined) {
    const model = options.model;
    checks.push(
      await run("backend.load gives a session that tokenizes and closes", async () => {
        const session = await backend.load(model, {}, callContext());
        const tokens = await session.tokenize("Once upon a time", callContext());
        expect(tokens.length > 0, "no tokens");
        await session.close();
        sound();
      }),
    );
  }
  return checks;
}
