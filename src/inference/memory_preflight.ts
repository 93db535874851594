/**
 * Memory preflight: estimate, from a GGUF header alone, the RAM (and VRAM) llama.cpp needs to load a
 * model with a context, and refuse with `INSUFFICIENT_MEMORY` — numbers and what to do — instead of
 * swapping or being killed.
 *
 * The estimate, for `n_ctx` tokens, a batch of `n_batch` (node-llama-cpp's default: min(n_ctx, 512)) and
 * `gpuLayers` of the model's `n_layer` layers offloaded (llama.cpp puts layers `n_layer - gpuLayers`…
 * on the GPU, and the output layer too when `gpuLayers > n_layer`):
 *
 * - **weights**: the tensor data bytes of each device's tensors (`blk.N.*` by layer; the token embedding
 *   stays in RAM). They are mmap'd, but must fit in RAM to run without thrashing.
 * - **KV cache** (f16, llama.cpp's `llama_kv_cache`): `2 bytes × n_ctx × (n_embd_k_gqa + n_embd_v_gqa)`
 *   per layer, `n_embd_k_gqa = head_count_kv × key_length` (key_length defaults to n_embd / n_head).
 * - **compute buffers** (llama.cpp's `sched_reserve`, which reserves the worst-case graph of one batch):
 *   `4 bytes × n_batch × (n_vocab + 4·n_embd + 3·n_ff)` — the batch's logits and its widest activations
 *   (the FFN's gate/up/down) — plus `4 bytes × n_batch × n_ctx` for the attention mask (llama.cpp's is
 *   f16: counted double, to stay above). An upper bound of what llama.cpp (node-llama-cpp 3.21.1, flash
 *   attention on, as its `auto` picks on CPU) reserved here: stories260K 2.02 / 3.52 MiB at n_ctx 512 /
 *   2048 (ours 2.6 / 6.8 MiB); a generated 100M model (n_embd 768, n_ff 2672) 22.2 / 23.7 / 29.7 MiB at
 *   512 / 2048 / 8192; a 20M model with a 32k vocabulary ~63 MiB, the logits dominating. The test
 *   compares them again (src/inference/memory_preflight_test.ts).
 * - **overhead** {@link MODEL_OVERHEAD_BYTES}: what loading a model costs beyond those buffers
 *   (vocabulary, graph metadata, allocator slack). Loading stories260K and the 100M model each grew the
 *   process's RSS by ~11 MB beyond its weights here; 32 MiB leaves room for larger vocabularies.
 *
 * Sliding-window and recurrent layers are counted as full attention: the estimate errs high.
 *
 * @example
 * ```ts
 * import { preflight } from "./memory_preflight.ts";
 * const estimate = await preflight("tests/fixtures/stories260K.gguf", { contextSize: 2048, gpuLayers: 0 });
 * console.log(estimate.ram); // bytes needed in RAM; throws INSUFFICIENT_MEMORY when more than is available
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import type { GgufHeader } from "../gguf/gguf_types.ts";
import { type GgufSummary, summarizeGguf } from "../gguf/summary.ts";
import { readGgufModelHeader } from "../gguf/split.ts";
import { tensorBytes } from "../gguf/ggml_types.ts";
import { readMemAvailable } from "./mem_available.ts";

/**
 * Bytes added to every estimate for what loading a model costs beyond weights, KV cache and compute
 * buffers (measured ~11 MB here for small models; see the module doc).
 */
export const MODEL_OVERHEAD_BYTES = 32 * 1024 * 1024;

/** node-llama-cpp's default batch size cap (`getDefaultContextBatchSize`). */
const DEFAULT_MAX_BATCH = 512;

/** Options of {@link estimateMemory}. */
export interface MemoryEstimateOptions {
  /** Tokens of context (`n_ctx`). */
  contextSize: number;
  /** Layers offloaded to the GPU (0 = CPU only; more than the layer count = everything, output too). */
  gpuLayers?: number;
  /** Tokens per batch (default min(contextSize, 512), node-llama-cpp's default). */
  batchSize?: number;
  /** Sequences sharing the context (default 1): the advice of {@link checkMemory} is per sequence. */
  sequences?: number;
}

/** Bytes of one part of the estimate, on each device. */
export interface DeviceBytes {
  ram: number;
  vram: number;
}

/** What a model with a context needs, in bytes. */
export interface MemoryEstimate {
  /** Total RAM needed. */
  ram: number;
  /** Total VRAM needed (0 without offload). */
  vram: number;
  weights: DeviceBytes;
  kvCache: DeviceBytes;
  compute: DeviceBytes;
  overhead: number;
  /** KV cache bytes per token of context (all layers). */
  kvBytesPerToken: number;
  contextSize: number;
  /** Sequences sharing `contextSize` (each gets `contextSize / sequences`). */
  sequences: number;
  gpuLayers: number;
  batchSize: number;
  /** The model's layer count (0 when the header does not say). */
  layers: number;
}

const LAYER = /^blk\.(\d+)\./;

/**
 * Estimates the memory llama.cpp needs for a model (its GGUF header) and a context. Pure.
 * @example
 * ```ts
 * import { readGgufHeader } from "../gguf/read_header.ts";
 * const header = await readGgufHeader("tests/fixtures/stories260K.gguf");
 * const e = estimateMemory(header, { contextSize: 2048 });
 * console.log(e.kvCache.ram); // 1310720 (2 × 5 layers × 2048 × (32 + 32) × 2 bytes)
 * ```
 */
export function estimateMemory(header: GgufHeader, options: MemoryEstimateOptions): MemoryEstimate {
  const s = summarizeGguf(header);
  const nCtx = options.contextSize;
  if (!Number.isSafeInteger(nCtx) || nCtx <= 0) {
    throw new RangeError(`contextSize must be a positive integer`);
  }
  const layers = s.blockCount ?? 0;
  const gpuLayers = Math.max(0, Math.min(options.gpuLayers ?? 0, layers + 1));
  const batch = options.batchSize ?? Math.min(nCtx, DEFAULT_MAX_BATCH);
  const firstGpuLayer = layers - Math.min(gpuLayers, layers);
  const outputOnGpu = gpuLayers > layers;

  const weights: DeviceBytes = { ram: 0, vram: 0 };
  for (const t of header.tensors) {
    const bytes = tensorBytes(t);
    const layer = LAYER.exec(t.name);
    const onGpu = layer ? Number(layer[1]) >= firstGpuLayer : outputOnGpu && !t.name.startsWith("token_embd");
    if (onGpu && gpuLayers > 0) weights.vram += bytes;
    else weights.ram += bytes;
  }

  const kvBytesPerLayerToken = 2 * kvWidth(s);
  const kvBytesPerToken = kvBytesPerLayerToken * layers;
  const gpuKvLayers = Math.min(gpuLayers, layers);
  const kvCache: DeviceBytes = {
    ram: kvBytesPerLayerToken * nCtx * (layers - gpuKvLayers),
    vram: kvBytesPerLayerToken * nCtx * gpuKvLayers,
  };

  const computeBytes = computeBuffer(s, batch, nCtx);
  const compute: DeviceBytes = { ram: computeBytes, vram: gpuLayers > 0 ? computeBytes : 0 };
  const overhead = MODEL_OVERHEAD_BYTES;
  return {
    ram: weights.ram + kvCache.ram + compute.ram + overhead,
    vram: weights.vram + kvCache.vram + compute.vram,
    weights,
    kvCache,
    compute,
    overhead,
    kvBytesPerToken,
    contextSize: nCtx,
    sequences: options.sequences ?? 1,
    gpuLayers,
    batchSize: batch,
    layers,
  };
}

/** n_embd_k_gqa + n_embd_v_gqa of one layer. */
function kvWidth(s: GgufSummary): number {
  const heads = s.headCount ?? 0;
  const perHead = heads > 0 && s.embeddingLength ? s.embeddingLength / heads : 0;
  const kvHeads = s.headCountKv ?? heads;
  return kvHeads * ((s.keyLength ?? perHead) + (s.valueLength ?? perHead));
}

/** The compute buffer bound of the module doc; n_ff from `<arch>.feed_forward_length` (else 4·n_embd). */
function computeBuffer(s: GgufSummary, batch: number, nCtx: number): number {
  const embd = s.embeddingLength ?? 0;
  const ff = s.feedForwardLength ?? 4 * embd;
  const vocab = s.vocabSize ?? 0;
  return 4 * batch * (vocab + 4 * embd + 3 * ff) + 4 * batch * nCtx;
}

/** Memory the caller can give the model. */
export interface AvailableMemory {
  /** Free RAM in bytes (`MemAvailable`); `undefined`: unknown, not checked. */
  ram?: number;
  /** Free VRAM in bytes when a GPU is used; `undefined`: unknown, not checked. */
  vram?: number;
}

function mib(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

/**
 * Throws `LodeError("INSUFFICIENT_MEMORY")` when the estimate does not fit in what is available, with
 * the numbers (needed, available, the parts) and what to do (the largest context that would fit, or a
 * smaller model) in the message and `details`.
 * @example
 * ```ts
 * import { readGgufHeader } from "../gguf/read_header.ts";
 * import { readMemAvailable } from "./mem_available.ts";
 * const estimate = estimateMemory(await readGgufHeader("tests/fixtures/stories260K.gguf"), { contextSize: 2048 });
 * checkMemory(estimate, { ram: await readMemAvailable() });
 * ```
 */
export function checkMemory(estimate: MemoryEstimate, available: AvailableMemory): void {
  for (const device of ["ram", "vram"] as const) {
    const have = available[device];
    const need = estimate[device];
    if (have === undefined || need <= have) continue;
    const kv = estimate.kvCache[device];
    const perToken = kv / estimate.contextSize;
    // The largest context that fits, in steps of 256: the KV cache and the attention mask grow with it.
    const maskPerToken = estimate.compute[device] > 0 ? 4 * estimate.batchSize : 0;
    const fixed = need - kv - maskPerToken * estimate.contextSize;
    const perTokenAll = perToken + maskPerToken;
    const fits = perTokenAll > 0 ? Math.floor((have - fixed) / perTokenAll / 256) * 256 : 0;
    const what = device === "ram" ? "RAM" : "VRAM";
    const { sequences } = estimate;
    const perSequence = Math.floor(fits / sequences / 256) * 256;
    const advice = sequences > 1 && perSequence >= 256
      ? `lower --ctx-size to ${perSequence} or less (the context of each of the ${sequences} requests that ` +
        `run at once, --parallel), or --parallel (the KV cache takes ${mib(perToken * 1024)} per 1024 tokens)`
      : sequences > 1 && fits >= 256
      ? `lower --parallel (${sequences} requests at once, each with its own context) or --ctx-size`
      : fits >= 256
      ? `lower --ctx-size to ${fits} or less (the KV cache takes ${mib(perToken * 1024)} per 1024 tokens)`
      : device === "vram"
      ? "offload fewer layers (--gpu LAYERS) or run on the CPU (--gpu off)"
      : "use a smaller model or quantization, or free memory";
    throw new LodeError(
      "INSUFFICIENT_MEMORY",
      `the model needs about ${mib(need)} of ${what} with a ${estimate.contextSize}-token context ` +
        `(weights ${mib(estimate.weights[device])}, KV cache ${mib(kv)}, compute ${
          mib(estimate.compute[device])
        }` +
        (device === "ram" ? `, overhead ${mib(estimate.overhead)}` : "") +
        `) but only ${mib(have)} is available; ${advice}`,
      {
        details: {
          device,
          needed_bytes: need,
          available_bytes: have,
          weights_bytes: estimate.weights[device],
          kv_cache_bytes: kv,
          compute_bytes: estimate.compute[device],
          context_size: estimate.contextSize,
          max_context_size: fits >= 256 ? fits : null,
          gpu_layers: estimate.gpuLayers,
        },
      },
    );
  }
}

/** Options of {@link preflight}. */
export interface PreflightOptions extends Omit<MemoryEstimateOptions, "contextSize"> {
  /**
   * Tokens of context (all sequences'); default: `sequences` × the model's training context, at most
   * `maxDefaultContext`.
   */
  contextSize?: number;
  /** Sequences of the context (default 1): without `contextSize`, each gets the default context. */
  sequences?: number;
  /** Cap of the default context size (default 4096, the backend's). */
  maxDefaultContext?: number;
  /** Free RAM (default: {@link readMemAvailable}; when unknown, RAM is not checked). */
  availableRam?: number;
  /** Free VRAM of the GPU layers are offloaded to (from the caller; unchecked when absent). */
  availableVram?: number;
}

/**
 * Reads the model's header (every shard's, for a split model), estimates its memory for the context, and checks it against what is
 * available: returns the estimate (its `contextSize` is the one to allocate), or throws
 * `INSUFFICIENT_MEMORY` (and `GGUF_INVALID` for a bad file). The backend calls it before loading.
 * @example
 * ```ts
 * const path = "tests/fixtures/stories260K.gguf";
 * await preflight(path, { contextSize: 4096, gpuLayers: 0 }); // RAM from /proc/meminfo
 * await preflight(path, { gpuLayers: 33, availableVram: 8 * 2 ** 30 }); // the model's context, at most 4096
 * ```
 */
export async function preflight(path: string, options: PreflightOptions = {}): Promise<MemoryEstimate> {
  const header = await readGgufModelHeader(path); // a split model's tensors from every shard
  const trained = summarizeGguf(header).contextLength;
  const cap = options.maxDefaultContext ?? DEFAULT_CONTEXT_CAP;
  const contextSize = options.contextSize ?? (options.sequences ?? 1) * Math.min(trained || cap, cap);
  const estimate = estimateMemory(header, { ...options, contextSize });
  const ram = options.availableRam ?? await readMemAvailable();
  checkMemory(estimate, { ram, vram: estimate.gpuLayers > 0 ? options.availableVram : undefined });
  return estimate;
}

/** The default context cap of {@link preflight}. */
const DEFAULT_CONTEXT_CAP = 4096;
