/**
 * An out-of-process plugin as a {@link Plugin} of api.ts, so the driver runs it exactly as a built-in:
 * each hook is a call on its {@link SupervisedPlugin}, each answer checked against its schema
 * (wire_descriptors.ts) before it is returned.
 *
 * @example
 * ```ts
 * import { readManifest } from "./manifest.ts";
 * import { SupervisedPlugin } from "./plugin_supervisor.ts";
 * import { remotePlugin } from "./remote_plugin.ts";
 * async function mirror(dir: string) {
 *   return remotePlugin(new SupervisedPlugin(await readManifest(dir)));
 * }
 * ```
 * @module
 */
import type {
  BackendHooks,
  CallContext,
  ChatMessageDescriptor,
  EventSink,
  FileFacts,
  GenerateDescriptor,
  GenerateResultDescriptor,
  Plugin,
  PluginSession,
  RegistryHooks,
} from "./api.ts";
import type { Envelope } from "../events/envelope.ts";
import type { CallOptions } from "./plugin_process.ts";
import type { SupervisedPlugin } from "./plugin_supervisor.ts";
import {
  checkAnswer,
  CredentialsSchema,
  GenerateResultSchema,
  LoadedSessionSchema,
  PlanDescriptorSchema,
  ProbeDescriptorSchema,
} from "./wire_descriptors.ts";
import { z } from "zod";

/** Timeouts of the calls that may run long (a load, a generation); others take the process default. */
export interface RemoteOptions {
  /** `backend.load` and every session call (default 10 minutes). */
  inferenceTimeoutMs?: number;
}

function options(context: CallContext | undefined, timeoutMs?: number): CallOptions {
  return {
    ...(context ? { signal: context.signal, onProgress: (d: unknown) => context.progress(d) } : {}),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
}

/** The `fileName` field of a call's params, when lode knows one. */
function named(file: FileFacts | undefined): { fileName?: string } {
  return file?.fileName === undefined ? {} : { fileName: file.fileName };
}

/** The {@link Plugin} that `plugin`'s process implements, for the hook groups its manifest lists. */
export function remotePlugin(plugin: SupervisedPlugin, remote: RemoteOptions = {}): Plugin {
  const { manifest } = plugin;
  const name = manifest.name;
  const long = remote.inferenceTimeoutMs ?? 10 * 60_000;
  const call = async <T extends z.ZodTypeAny>(
    schema: T,
    hook: string,
    params: unknown,
    callOptions: CallOptions,
  ): Promise<z.infer<T>> => checkAnswer(schema, await plugin.call(hook, params, callOptions), name, hook);

  const registry: RegistryHooks | undefined = manifest.hooks.includes("registry")
    ? {
      schemes: manifest.schemes ?? [],
      resolve: (ref, context) => call(PlanDescriptorSchema, "registry.resolve", ref, options(context)),
      credentials: (host, context) =>
        call(CredentialsSchema, "registry.credentials", { host }, options(context)),
    }
    : undefined;

  const sink: EventSink | undefined = manifest.hooks.includes("sink")
    ? {
      name,
      event: async (envelope: Envelope) => void await plugin.call("sink.event", { envelope }),
      close: async () => {
        try {
          await plugin.call("sink.close", null);
        } finally {
          await plugin.shutdown();
        }
      },
    }
    : undefined;

  const session = (id: string, loaded: z.infer<typeof LoadedSessionSchema>): PluginSession => {
    // What the session says it can do, as far as the hellos agreed on the features that carry it.
    const agreed = plugin.process?.features ?? new Set();
    const features = loaded.features === undefined ? undefined : {
      tokenize: loaded.features.tokenize,
      rawEmbeddings: loaded.features.rawEmbeddings,
      loadOptions: loaded.features.loadOptions,
      tools: loaded.features.tools === true && agreed.has("tools"),
      renderChat: loaded.features.renderChat === true && agreed.has("render_chat"),
    };
    const generation = (hook: string, params: Record<string, unknown>, context: CallContext) =>
      call(GenerateResultSchema, hook, { session: id, ...params }, options(context, long)) as Promise<
        GenerateResultDescriptor
      >;
    return {
      capabilities: loaded.capabilities,
      info: loaded.info,
      ...(features === undefined ? {} : { features }),
      generate: (prompt: string, o: GenerateDescriptor, context: CallContext) =>
        generation("session.generate", { prompt, options: o }, context),
      chat: (messages: ChatMessageDescriptor[], o: GenerateDescriptor, context: CallContext) =>
        generation("session.chat", { messages, options: o }, context),
      ...(features?.renderChat
        ? {
          renderChat: (messages: ChatMessageDescriptor[], context: CallContext) =>
            call(z.string(), "session.renderChat", { session: id, messages }, options(context, long)),
        }
        : {}),
      embed: (texts, o, context) =>
        call(
          z.array(z.array(z.number())),
          "session.embed",
          { session: id, texts, options: o },
          options(context, long),
        ),
      tokenize: (text, context) =>
        call(z.array(z.number().int()), "session.tokenize", { session: id, text }, options(context, long)),
      detokenize: (tokens, context) =>
        call(z.string(), "session.detokenize", { session: id, tokens }, options(context, long)),
      close: async () => void await plugin.call("session.close", { session: id }),
    };
  };

  const backend: BackendHooks | undefined = manifest.hooks.includes("backend")
    ? {
      name,
      probe: (path, context, file) =>
        call(ProbeDescriptorSchema, "backend.probe", { path, ...named(file) }, options(context)),
      load: async (path, loadOptions, context, file) => {
        const loaded = await call(
          LoadedSessionSchema,
          "backend.load",
          { path, options: loadOptions, ...named(file) },
          options(context, long),
        );
        return session(loaded.session, loaded);
      },
    }
    : undefined;

  return {
    name,
    ...(registry ? { registry } : {}),
    ...(sink ? { sink } : {}),
    ...(backend ? { backend } : {}),
  };
}
