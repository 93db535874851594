/**
 * A runner process as the backend plugin it is: api.ts's {@link BackendHooks} whose every hook is a call
 * on its {@link RunnerClient}, so the daemon uses it through the same adapter as any backend plugin
 * (src/inference/plugin_backend.ts) and the plugin conformance suite runs against it. A runner's errors
 * are lode's own: they keep the code, message, hint and details the runner raised them with.
 *
 * @example
 * ```ts
 * import { RunnerClient } from "./runner_client.ts";
 * import { runnerCommand } from "./runner_command.ts";
 * import { runnerHooks } from "./runner_hooks.ts";
 * import { pluginBackend } from "../../inference/plugin_backend.ts";
 * const client = await RunnerClient.start(runnerCommand());
 * const backend = pluginBackend(runnerHooks(client), { shutdown: async () => void await client.close() });
 * ```
 * @module
 */
import type {
  BackendHooks,
  CallContext,
  GenerateResultDescriptor,
  PluginSession,
  ProbeDescriptor,
  SessionFeaturesDescriptor,
  SessionInfoDescriptor,
} from "../../plugin/api.ts";
import type { Capabilities } from "../../events/status_event.ts";
import type { CallHandlers, RunnerClient } from "./runner_client.ts";

/** The answer to `backend.load`. */
interface Loaded {
  session: string;
  capabilities: Capabilities;
  info: SessionInfoDescriptor;
  features?: SessionFeaturesDescriptor;
}

function handlers(context: CallContext): CallHandlers {
  return { signal: context.signal, onProgress: (data) => context.progress(data) };
}

/** The backend hooks of the runner behind `client` (named as its hello names it). */
export function runnerHooks(client: RunnerClient): BackendHooks {
  const call = (hook: string, params: unknown, context: CallContext) =>
    client.call(hook, params, handlers(context));

  const session = (loaded: Loaded): PluginSession => {
    const id = loaded.session;
    return {
      capabilities: loaded.capabilities,
      info: loaded.info,
      ...(loaded.features === undefined ? {} : { features: loaded.features }),
      generate: async (prompt, options, context) =>
        await call("session.generate", { session: id, prompt, options }, context) as GenerateResultDescriptor,
      chat: async (messages, options, context) =>
        await call("session.chat", { session: id, messages, options }, context) as GenerateResultDescriptor,
      renderChat: async (messages, context) =>
        await call("session.renderChat", { session: id, messages }, context) as string,
      embed: async (texts, options, context) =>
        await call("session.embed", { session: id, texts, options }, context) as number[][],
      tokenize: async (text, context) =>
        await call("session.tokenize", { session: id, text }, context) as number[],
      detokenize: async (tokens, context) =>
        await call("session.detokenize", { session: id, tokens }, context) as string,
      close: async () => void await client.call("session.close", { session: id }),
    };
  };

  return {
    name: client.hello.name,
    probe: async (path, context) => await call("backend.probe", { path }, context) as ProbeDescriptor,
    load: async (path, options, context) =>
      session(await call("backend.load", { path, options }, context) as Loaded),
  };
}
