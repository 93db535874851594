/**
 * The backend suite of a plugin: `backend.probe` says no (with a reason) for a file that is not a model
 * and for a missing one, without a fault; with a model file, `backend.load` gives a session that
 * tokenizes and closes; a session that declares the `tools` feature takes a chat with a tool and answers
 * it in shape, one that declares `render_chat` renders a chat to text. The full generation suite of the inference layer
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
    const session = await backend.load(model, {}, callContext()).catch(() => null);
    if (session?.features?.tools && session.chat !== undefined) {
      checks.push(
        await run("session.chat takes tools and answers in shape (the tools feature)", async () => {
          const tool = { name: "get_time", description: "the time now", parameters: { type: "object" } };
          const result = await session.chat(
            [{ role: "user", content: "What time is it?" }],
            { maxTokens: 8, tools: [tool] },
            callContext(),
          );
          expect(typeof result.text === "string", "its answer has no text");
          for (const c of result.toolCalls ?? []) {
            expect(typeof c.id === "string" && c.name !== "", "a tool call without id or name");
          }
          sound();
        }),
      );
    }
    if (session?.features?.renderChat && session.renderChat !== undefined) {
      const render = session.renderChat.bind(session);
      checks.push(
        await run("session.renderChat gives text (the render_chat feature)", async () => {
          const text = await render([{ role: "user", content: "Hello" }], callContext());
          expect(typeof text === "string" && text.includes("Hello"), "its text does not hold the message");
          sound();
        }),
      );
    }
    await session?.close().catch(() => {});
  }
  return checks;
}
