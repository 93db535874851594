/**
 * A `loaded` frame as the daemon sends it for stories260K on the CPU: for tests of the protocol and of
 * clients that need a well-formed one (and of what happens when a field is left out).
 *
 * @example
 * ```ts
 * const { capabilities: _, ...withoutCapabilities } = loadedFrame("l1");
 * ```
 * @module
 */
import type { FrameOf } from "../../src/daemon/wire/protocol.ts";

/** The capabilities part. */
export const CPU_CAPABILITIES = {
  backend: "llamacpp",
  v2: false,
  vision: false,
  audio: false,
  tools: false,
  thinking: false,
  embed: true,
  accelerator: "cpu",
  gpu_layers: 0,
};

/** A whole `loaded` frame of request `id` for `model`. */
export function loadedFrame(id: string, model = "stories260K"): FrameOf<"loaded"> {
  return {
    id,
    type: "loaded",
    model,
    load_ms: 80,
    context_size: 512,
    capabilities: CPU_CAPABILITIES,
    info: {
      architecture: "llama",
      train_context_size: 512,
      threads: 1,
      has_chat_template: false,
      embedding_size: 64,
      model_load_ms: 80,
    },
  };
}
