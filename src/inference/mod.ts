/**
 * Inference: the backend contract and the node-llama-cpp backend. Importing
 * this module is cheap; node-llama-cpp is loaded by the first `load`.
 *
 * @example
 * ```ts
 * import { createLlamaCppBackend } from "./mod.ts";
 * const backend = createLlamaCppBackend();
 * const session = await backend.load("tests/fixtures/stories260K.gguf", { onStatus: (e) => console.error(e) });
 * const generation = session.generate("Once upon a time", { maxTokens: 40, temperature: 0 });
 * for await (const chunk of generation) console.log(chunk);
 * console.log((await generation.result).usage);
 * await backend.close();
 * ```
 * @module
 */
export type {
  Backend,
  Capabilities,
  ChatMessage,
  EmbedOptions,
  GenerateOptions,
  GenerateResult,
  Generation,
  GpuSetting,
  LoadOptions,
  ProbeResult,
  Session,
  SessionInfo,
  StatusEvent,
  StopReason,
  ToolCall,
  ToolCallDelta,
  ToolChoice,
  ToolDefinition,
  Usage,
} from "./backend.ts";
export { defaultThreads, MAX_DEFAULT_THREADS } from "./default_threads.ts";
export { checkJsonSchema } from "./json_schema.ts";
export { createGeneration, type CreateGenerationOptions, type GenerationRun } from "./generation.ts";
export {
  createLlamaCppBackend,
  DEFAULT_CONTEXT_SIZE,
  LLAMA_CPP_BACKEND_NAME,
  type LlamaCppBackendOptions,
} from "./llama_cpp_backend.ts";
export { parseMemAvailable, readMemAvailable, type ReadMemAvailableOptions } from "./mem_available.ts";
export {
  type AvailableMemory,
  checkMemory,
  type DeviceBytes,
  estimateMemory,
  type MemoryEstimate,
  type MemoryEstimateOptions,
  MODEL_OVERHEAD_BYTES,
  preflight,
  type PreflightOptions,
} from "./memory_preflight.ts";
export { probeGguf } from "./gguf_probe.ts";
