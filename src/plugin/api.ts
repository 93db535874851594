/**
 * The plugin contract of lode: every hook a plugin can implement, typed, and the kind each hook is run
 * by. One file, versioned by {@link API_VERSION}; a later version only adds optional hooks, so a plugin
 * written against version 1 keeps working.
 *
 * A plugin implements one or more hook groups:
 *
 * - **registry**: claims reference schemes (`mirror:`), resolves a reference to a pinned plan of file
 *   descriptors (URLs, SHA-256, size, headers), and gives credentials for a host. A registry returns
 *   descriptors only: the core downloads and verifies every byte.
 * - **sink**: receives every envelope of the event stream ({@link EventSink}).
 * - **backend**: probes a file and loads it into a session that generates, chats, embeds and tokenizes.
 *
 * The descriptors here are the wire shapes (plain JSON, camelCase like the in-process types they mirror:
 * a {@link PlanDescriptor} is the registry layer's `ModelPlan` with every file pinned, a
 * {@link PluginSession} is the inference layer's `Session` without the parts that cannot cross a
 * process). This module has no runtime dependency (type imports only), so the plugin SDK
 * (`plugins/sdk/mod.ts`) imports it under `deno run` without lode's import map.
 *
 * @example
 * ```ts
 * import type { RegistryHooks } from "./api.ts";
 * const mirror: RegistryHooks = {
 *   schemes: ["mirror"],
 *   resolve: (ref) =>
 *     Promise.resolve({
 *       name: ref.rest,
 *       reference: ref.reference,
 *       source: { registry: "mirror", repo: "", revision: "" },
 *       files: [{
 *         role: "model",
 *         filename: `${ref.rest}.gguf`,
 *         urls: [`https://mirror.internal/${ref.rest}.gguf`],
 *         sha256: "0".repeat(64),
 *         sizeBytes: 1,
 *       }],
 *     }),
 * };
 * ```
 * @module
 */
import type { Capabilities } from "../events/status_event.ts";
import type { StopReason, Usage } from "../events/inference_event.ts";
import type { EventSink } from "./sink_runner.ts";

export type { Capabilities, EventSink, StopReason, Usage };

/** The version of this contract. Version N+1 only adds optional hooks. */
export const API_VERSION = 1;

/** The versions of the stdio protocol (docs/plugins.md) this lode speaks, newest last. */
export const PROTOCOL_VERSIONS: readonly number[] = [1];

/** The hook groups a manifest lists in `hooks`. */
export type HookGroup = "registry" | "sink" | "backend";

/** The hook groups, in the order the driver lists them. */
export const HOOK_GROUPS: readonly HookGroup[] = ["registry", "sink", "backend"];

/**
 * How the driver runs a hook over the plugins that implement it:
 *
 * - `first`: in registration order until one answers (a registry that claims the scheme, a backend
 *   whose probe says ok); the others are not called.
 * - `sequential`: every plugin in registration order, one after the other, each awaited.
 * - `parallel`: every plugin at once; one's failure or slowness does not hold back the others.
 */
export type HookKind = "first" | "sequential" | "parallel";

/** Every hook by its wire name, with its group and kind. */
export const HOOKS = {
  "registry.resolve": { group: "registry", kind: "first" },
  "registry.credentials": { group: "registry", kind: "first" },
  "sink.event": { group: "sink", kind: "parallel" },
  "sink.close": { group: "sink", kind: "sequential" },
  "backend.probe": { group: "backend", kind: "first" },
  "backend.load": { group: "backend", kind: "first" },
} as const satisfies Record<string, { group: HookGroup; kind: HookKind }>;

/** A hook's wire name. */
export type HookName = keyof typeof HOOKS;

/**
 * What every hook call gets besides its arguments: a signal that aborts when the host cancels the call
 * (the plugin still answers: with its result, or with a cancellation), and a way to report progress.
 */
export interface CallContext {
  readonly signal: AbortSignal;
  /** Sends one progress frame for this call (any JSON value). */
  progress(data: unknown): void;
}

// ---------------------------------------------------------------------------------------------------
// registry

/** A reference as a registry receives it: `mirror:tiny@v1` is scheme `mirror`, rest `tiny@v1`. */
export interface RegistryRef {
  /** The whole reference as the user typed it. */
  reference: string;
  /** The scheme, without its colon. */
  scheme: string;
  /** Everything after the scheme's colon. */
  rest: string;
}

/** One pinned file of a plan: where to get it (mirrors tried in order) and the bytes it must be. */
export interface FileDescriptor {
  /** `model`, `shard`, `mmproj`, … (the registry layer's `FileRole`). */
  role: string;
  /** The file's name as the source knows it; recorded in the manifest. */
  filename: string;
  /** Where the bytes are, tried in order on failure; at least one (https unless the host allows http). */
  urls: string[];
  /** SHA-256 of the bytes, lowercase hex: the core verifies it while downloading. */
  sha256: string;
  /** The size in bytes. */
  sizeBytes: number;
  /** Request headers, sent only to each URL's own origin (never to a redirect target elsewhere). */
  headers?: Record<string, string>;
  /** An optional file's failure does not fail the pull. */
  optional?: boolean;
}

/** A pinned, downloadable description of one model: the registry layer's `ModelPlan`, every file pinned. */
export interface PlanDescriptor {
  /** Name in the store. */
  name: string;
  /** The reference, normalised, for the lockfile. */
  reference: string;
  source: {
    /** The registry's id (the plugin's name, or its scheme). */
    registry: string;
    /** A repository or collection, when the source has one; else empty. */
    repo: string;
    /** An immutable revision when the source has one; else empty. */
    revision: string;
  };
  /** At least one file; `files[0]` is the primary one. */
  files: FileDescriptor[];
  license?: string | null;
  format?: string;
  /** Hosts the downloads may be redirected to (a CDN); they join the allow-list for this plan. */
  allowHosts?: string[];
  /** What to do when a download is refused (HTTP 401/403), shown as the `ACCESS_DENIED` hint. */
  accessHint?: string;
}

/** Credentials for one host: headers to send with requests to it. */
export interface Credentials {
  headers: Record<string, string>;
}

/** A registry: claims schemes, resolves references, gives credentials. */
export interface RegistryHooks {
  /** The schemes it claims, without colons (`["mirror"]`). */
  readonly schemes: readonly string[];
  /** `registry.resolve` (first): the pinned plan of `ref`. */
  resolve(ref: RegistryRef, context: CallContext): Promise<PlanDescriptor>;
  /** `registry.credentials` (first): headers for requests to `host`, or null when it has none. */
  credentials?(host: string, context: CallContext): Promise<Credentials | null>;
}

// ---------------------------------------------------------------------------------------------------
// backend

/** Whether a backend can run a file (the inference layer's `ProbeResult`). */
export type ProbeDescriptor =
  | { ok: true; format: string; architecture: string }
  | { ok: false; reason: string };

/** How to load a model (the wire part of the inference layer's `LoadOptions`). */
export interface LoadDescriptor {
  /** Context size in tokens; the backend's default when absent. */
  contextSize?: number;
  /** `auto`, `off`, or a number of layers to offload. */
  gpu?: "auto" | "off" | number;
  threads?: number;
  /** Check that the model fits in free memory before loading (`INSUFFICIENT_MEMORY` otherwise). */
  memoryCheck?: boolean;
  /** Keep the backend's threads on some CPUs: `auto`, `off`, or a list of CPU numbers. */
  cpus?: "auto" | "off" | number[];
  /** `generate`/`chat` calls on the session decoded together (default 1); more wait for a free one. */
  sequences?: number;
  /**
   * A Jinja chat template to render chats with instead of the model's own (a stored model's
   * `chat_template` file); absent: the model's own. A backend that cannot use it may ignore it.
   */
  chatTemplate?: string;
  /** What `chatTemplate` is called in errors (`FILENAME of model "NAME"`). */
  chatTemplateName?: string;
}

/** Facts about a loaded model (the inference layer's `SessionInfo`). */
export interface SessionInfoDescriptor {
  path: string;
  architecture: string;
  contextSize: number;
  trainContextSize: number;
  threads: number;
  hasChatTemplate: boolean;
  embeddingSize: number;
  loadMs: number;
  /** The CPUs the backend's process was pinned to; absent when not pinned. */
  cpus?: number[];
}

/** A tool a chat may call (the inference layer's `ToolDefinition`; the `tools` feature). */
export interface ToolDescriptor {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters?: Record<string, unknown>;
}

/** A tool call a model made, or one given back in a conversation (the `tools` feature). */
export interface ToolCallDescriptor {
  id: string;
  name: string;
  /** The arguments as JSON text. */
  arguments: string;
}

/** A piece of a tool call being generated: the first of a call has `id` and `name` (the `tools` feature). */
export interface ToolCallDeltaDescriptor {
  /** The call's position in the answer. */
  index: number;
  id?: string;
  name?: string;
  arguments: string;
}

/** Sampling options of a generation (the inference layer's `GenerateOptions` without its signal). */
export interface GenerateDescriptor {
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  topK?: number;
  topP?: number;
  repeatPenalty?: number;
  stop?: string[];
  jsonSchema?: Record<string, unknown>;
  /** Tools the model may call (`session.chat` with the `tools` feature only). */
  tools?: ToolDescriptor[];
  /** `auto`, `none`, `required`, or `{ name }` (the `tools` feature). */
  toolChoice?: "auto" | "none" | "required" | { name: string };
  /** False: at most one call per answer (the `tools` feature). */
  parallelToolCalls?: boolean;
}

/** One message of a chat; `tool` messages and `toolCalls` only with the `tools` feature. */
export interface ChatMessageDescriptor {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  /** The calls an assistant message made. */
  toolCalls?: ToolCallDescriptor[];
  /** The call a `tool` message answers. */
  toolCallId?: string;
}

/**
 * A progress frame's `data` during `session.generate` and `session.chat`: one text chunk; several in
 * order (the `chunks` feature: a fast stream sends fewer frames); or a piece of a tool call (the `tools`
 * feature), after every chunk before it.
 */
export type GenerationProgress =
  | { text: string }
  | { texts: string[] }
  | { toolCall: ToolCallDeltaDescriptor };

/** The end of a generation (the inference layer's `GenerateResult`). */
export interface GenerateResultDescriptor {
  text: string;
  stopReason: StopReason;
  usage: Usage;
  /** The tools the answer calls (with `stopReason: "tool_calls"`; the `tools` feature). */
  toolCalls?: ToolCallDescriptor[];
}

/**
 * What a session can do exactly (the inference layer's `SessionFeatures`); a session without it can do all.
 * A backend that fronts another server through an API that cannot give the model's token ids says so here
 * instead of approximating them.
 */
export interface SessionFeaturesDescriptor {
  /** `tokenize`/`detokenize` give the model's own token ids. */
  tokenize: boolean;
  /** `embed` with `normalize: false` gives the raw vectors. */
  rawEmbeddings: boolean;
  /** `load` honours the load options (context size, threads, GPU) and reports the load's phases. */
  loadOptions: boolean;
  /** `session.chat` takes tools (absent: false; only with the `tools` feature of the hellos). */
  tools?: boolean;
  /** `renderChat` gives the text a chat feeds the model (absent: false; the `render_chat` feature). */
  renderChat?: boolean;
}

/** A loaded model in a backend plugin: the inference layer's `Session`, minus what cannot cross a process. */
export interface PluginSession {
  readonly capabilities: Capabilities;
  readonly info: SessionInfoDescriptor;
  /** What it can do exactly; absent: everything. */
  readonly features?: SessionFeaturesDescriptor;
  /**
   * Streams text chunks with `context.progress({ text })` (or {@link GenerationProgress}'s other forms
   * when negotiated), then resolves with the whole result.
   */
  generate(
    prompt: string,
    options: GenerateDescriptor,
    context: CallContext,
  ): Promise<GenerateResultDescriptor>;
  /** As {@link generate}, for a chat rendered through the model's template. */
  chat(
    messages: ChatMessageDescriptor[],
    options: GenerateDescriptor,
    context: CallContext,
  ): Promise<GenerateResultDescriptor>;
  /** The exact text `chat` feeds the model (the `render_chat` feature; `features.renderChat`). */
  renderChat?(messages: ChatMessageDescriptor[], context: CallContext): Promise<string>;
  embed(texts: string[], options: { normalize?: boolean }, context: CallContext): Promise<number[][]>;
  tokenize(text: string, context: CallContext): Promise<number[]>;
  detokenize(tokens: number[], context: CallContext): Promise<string>;
  close(): Promise<void>;
}

/**
 * What lode knows of a model file besides its path (the `fileName` field of `backend.probe` and
 * `backend.load` params): a model in the store is served from its blob, whose path ends in `data`.
 */
export interface FileFacts {
  /** The file's own name (`m.remote.json`) when `path` does not end in it; absent when it does. */
  fileName?: string;
}

/** A backend: probes files and loads them into sessions. */
export interface BackendHooks {
  /** Stable identifier, also reported as `capabilities.backend`. */
  readonly name: string;
  /** `backend.probe` (first): whether it can run the file at `path`; never rejects for a non-model. */
  probe(path: string, context: CallContext, file?: FileFacts): Promise<ProbeDescriptor>;
  /** `backend.load` (first): the model at `path`, loaded. */
  load(path: string, options: LoadDescriptor, context: CallContext, file?: FileFacts): Promise<PluginSession>;
}

// ---------------------------------------------------------------------------------------------------
// a plugin

/** A plugin as the driver holds it: its name and the hook groups it implements. */
export interface Plugin {
  readonly name: string;
  readonly registry?: RegistryHooks;
  readonly sink?: EventSink;
  readonly backend?: BackendHooks;
}
