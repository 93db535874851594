/**
 * The frames of the plugin protocol: NDJSON over a plugin's stdin and stdout, one JSON object a line,
 * tagged by `type` (docs/plugins.md shows every frame).
 *
 * - Both sides start with `hello` (protocol versions, contract version, features); the highest version
 *   both speak is used, none in common is a `PLUGIN_PROTOCOL`.
 * - The host sends `call` frames with ids; the plugin answers each id once, with `result` or `error`,
 *   and may send `progress` frames for it before.
 * - `cancel` asks the plugin to stop a call; the call is still answered (LSP's rule).
 * - `shutdown` is a call (`{"type":"call","hook":"shutdown"}`) answered like any other; then `exit`,
 *   after which the host kills the process if it is still there after a grace period.
 *
 * @example
 * ```ts
 * import { PluginFrame } from "./plugin_protocol.ts";
 * PluginFrame.parse({ type: "result", id: 1, value: { ok: true } });
 * ```
 * @module
 */
import { z } from "zod";

/** The largest frame either side sends (bytes of one line): 16 MiB. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** The largest frame with the `large_frames` feature (an embedding of many texts, or its vectors): 256 MiB. */
export const LARGE_FRAME_BYTES = 256 * 1024 * 1024;

/**
 * Every feature a hello may list, with what it means. A feature is used only when both hellos list it;
 * a side that does not know one ignores it.
 */
export const FEATURES = {
  cancel: "the host may send `cancel`; the call is still answered",
  progress: "the plugin may send `progress` frames for a call",
  shutdown: "the host ends with a `shutdown` call, then `exit`",
  chunks: "a generation's progress may carry `{texts: [...]}`: several chunks at once, in order",
  large_frames: "lines up to 256 MiB both ways (an embedding of many texts, or its vectors)",
  tools: "`session.chat` carries tools, tool calls and `tool` messages; progress `{toolCall}`",
  render_chat: "`session.renderChat` gives the text a chat feeds the model",
  load_status: "`backend.load`'s progress frames are status events (`loading_model` phases)",
  concurrent: "several `session.generate`/`session.chat` calls on one session run at once, each cancellable",
} as const;

/** A feature's name. */
export type Feature = keyof typeof FEATURES;

/**
 * The features this host offers a plugin process on stdio (plugin_process.ts) in its hello: every one
 * its backend adapter (src/inference/plugin_backend.ts) takes. `tools`, `render_chat` and `large_frames`
 * are optional: a plugin that does not list them in its hello gets no tools, no `session.renderChat`
 * call and 16 MiB frames.
 */
export const HOST_FEATURES: readonly Feature[] = [
  "cancel",
  "progress",
  "shutdown",
  "chunks",
  "large_frames",
  "tools",
  "render_chat",
  "load_status",
  "concurrent",
];

/** The features both lists hold, in `ours`' order. */
export function commonFeatures(ours: readonly string[], theirs: readonly string[]): Feature[] {
  return ours.filter((f): f is Feature => Object.hasOwn(FEATURES, f) && theirs.includes(f));
}

/** Methods a call names besides the hooks of api.ts: the calls on a backend's loaded session. */
export const SESSION_METHODS = [
  "session.generate",
  "session.chat",
  "session.renderChat",
  "session.embed",
  "session.tokenize",
  "session.detokenize",
  "session.close",
] as const;
export type SessionMethod = typeof SESSION_METHODS[number];

const id = z.number().int().nonnegative();

/** Why a call failed, as the plugin says: `denied` names the permission its sandbox refused. */
export const WireError = z.object({
  kind: z.enum(["failed", "denied", "cancelled", "bad_request", "unknown_hook"]),
  message: z.string(),
  /** For `denied`: `net`, `read`, `write`, `env`, `run`, `ffi`, `sys`. */
  permission: z.string().optional(),
  /** For `denied`: what was asked for (`127.0.0.1:8080`, `/etc/passwd`, `HF_TOKEN`). */
  target: z.string().optional(),
  /**
   * For `failed` and `bad_request`: a code of lode's error catalogue (`USAGE`, `CONTEXT_LENGTH_EXCEEDED`,
   * `MODEL_LOAD_FAILED`, …) the failure is reported with instead of `PLUGIN_FAILED`.
   */
  code: z.string().optional(),
  /** With `code`: the error's structured fields (`details` of the `LodeError`). */
  details: z.record(z.unknown()).optional(),
  /** With `code`: what to do about it (`hint` of the `LodeError`). */
  hint: z.string().optional(),
});
export type WireError = z.infer<typeof WireError>;

/** The plugin's hello. */
export const PluginHello = z.object({
  type: z.literal("hello"),
  protocol: z.array(z.number().int().positive()).min(1),
  api_version: z.number().int().positive(),
  name: z.string(),
  version: z.string(),
  hooks: z.array(z.string()),
  features: z.array(z.string()).default([]),
});
export type PluginHello = z.infer<typeof PluginHello>;

/** Any frame a plugin sends. */
export const PluginFrame = z.discriminatedUnion("type", [
  PluginHello,
  z.object({ type: z.literal("result"), id, value: z.unknown() }),
  z.object({ type: z.literal("error"), id, error: WireError }),
  z.object({ type: z.literal("progress"), id, data: z.unknown() }),
]);
export type PluginFrame = z.infer<typeof PluginFrame>;

/** The host's hello. */
export const HostHello = z.object({
  type: z.literal("hello"),
  protocol: z.array(z.number().int().positive()).min(1),
  api_version: z.number().int().positive(),
  features: z.array(z.string()).default([]),
  host: z.string(),
});
export type HostHello = z.infer<typeof HostHello>;

/** Any frame the host sends. */
export const HostFrameSchema = z.discriminatedUnion("type", [
  HostHello,
  z.object({ type: z.literal("call"), id, hook: z.string(), params: z.unknown() }),
  z.object({ type: z.literal("cancel"), id }),
  z.object({ type: z.literal("exit") }),
]);

/** Any frame the host sends. */
export type HostFrame =
  | { type: "hello"; protocol: number[]; api_version: number; features: string[]; host: string }
  | { type: "call"; id: number; hook: string; params: unknown }
  | { type: "cancel"; id: number }
  | { type: "exit" };

/** The highest version both lists hold, or null. */
export function commonVersion(ours: readonly number[], theirs: readonly number[]): number | null {
  const both = ours.filter((v) => theirs.includes(v));
  return both.length === 0 ? null : Math.max(...both);
}

/** A line longer than the frame limit: the reader stops at the limit instead of buffering the rest. */
export class FrameTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`a frame longer than ${limit} bytes`);
  }
}

/**
 * The lines of `stream` (without their `\n`), each at most `bound` bytes: a longer one throws
 * {@link FrameTooLarge} once that many bytes of it have arrived, holding no more of it than that. A
 * function `bound` is asked again for every chunk (a limit that grows once the hellos agree on it).
 */
export async function* boundedLines(
  stream: ReadableStream<Uint8Array>,
  bound: number | (() => number) = MAX_FRAME_BYTES,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = [];
  let held = 0;
  for await (const chunk of stream) {
    const limit = typeof bound === "number" ? bound : bound();
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      if (held + end - start > limit) throw new FrameTooLarge(limit);
      if (end > start) {
        parts.push(chunk.subarray(start, end));
        held += end - start;
      }
      if (nl === -1) break;
      const line = new Uint8Array(held);
      let at = 0;
      for (const p of parts) {
        line.set(p, at);
        at += p.length;
      }
      parts = [];
      held = 0;
      start = nl + 1;
      yield decoder.decode(line);
    }
    // Parts still refer to `chunk`; copy them so the stream may reuse its buffer.
    parts = parts.map((p) => p.slice());
  }
  if (held > 0) {
    const line = new Uint8Array(held);
    let at = 0;
    for (const p of parts) {
      line.set(p, at);
      at += p.length;
    }
    yield decoder.decode(line);
  }
}

/** The last `limit` bytes written to it (a plugin's stderr, kept as its log). */
export class LogRing {
  #chunks: Uint8Array[] = [];
  #size = 0;
  #dropped = 0;

  constructor(readonly limit: number = 64 * 1024) {}

  write(chunk: Uint8Array): void {
    const copy = chunk.length > this.limit ? chunk.slice(chunk.length - this.limit) : chunk.slice();
    this.#dropped += chunk.length - copy.length;
    this.#chunks.push(copy);
    this.#size += copy.length;
    while (this.#size > this.limit) {
      const first = this.#chunks[0]!;
      const over = this.#size - this.limit;
      if (first.length <= over) {
        this.#chunks.shift();
        this.#size -= first.length;
        this.#dropped += first.length;
      } else {
        this.#chunks[0] = first.slice(over);
        this.#size -= over;
        this.#dropped += over;
      }
    }
  }

  /** Bytes written and no longer kept. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The kept text. */
  text(): string {
    const all = new Uint8Array(this.#size);
    let at = 0;
    for (const c of this.#chunks) {
      all.set(c, at);
      at += c.length;
    }
    return new TextDecoder().decode(all);
  }

  /** The last `lines` lines of the kept text. */
  tail(lines = 20): string {
    return this.text().trimEnd().split("\n").slice(-lines).join("\n");
  }
}
