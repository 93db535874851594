/**
 * The router's memory accounting: what a model costs when loaded in a
 * runner process (the preflight's estimate of weights, KV cache, compute
 * buffers and overhead, plus the runner process itself), and whether one
 * more model fits — in a fixed budget, or in the RAM the system has free.
 *
 * @example
 * ```ts
 * import { estimateRunnerBytes, memoryFit } from "./router_memory.ts";
 * const need = await estimateRunnerBytes("tests/fixtures/stories260K.gguf", { contextSize: 2048 });
 * memoryFit({ need, loaded: 0, budget: 512 * 1024 * 1024 }); // "fits"
 * ```
 * @module
 */
import { isLodeError, LodeError } from "../../errors.ts";
import { preflight } from "../../inference/memory_preflight.ts";
import type { RunnerLoadOptions } from "../runner/runner_protocol.ts";

/**
 * What a runner process takes beyond its model: the Deno runtime and node-llama-cpp (the RSS of a runner
 * with stories260K, less the model's estimate; docs/benchmarks.md).
 */
export const RUNNER_PROCESS_BYTES = 96 * 1024 * 1024;

/**
 * Bytes of RAM a model at `path` needs in a runner (the context the backend would allocate: the asked
 * one, else the model's training context up to 4096 for each of `load.sequences`; layers counted on the
 * CPU, an upper bound for RAM).
 * A file lode cannot read as GGUF rejects with `MODEL_LOAD_FAILED`.
 *
 * @example
 * ```ts
 * await estimateRunnerBytes("/models/blobs/sha256/ab/ab…/data", { contextSize: 4096 });
 * ```
 */
export async function estimateRunnerBytes(path: string, load: RunnerLoadOptions = {}): Promise<number> {
  try {
    const estimate = await preflight(path, {
      contextSize: load.contextSize,
      sequences: load.sequences,
      gpuLayers: 0,
      availableRam: Number.POSITIVE_INFINITY, // an estimate only: the router checks it against its budget
    });
    return estimate.ram + RUNNER_PROCESS_BYTES;
  } catch (e) {
    if (!isLodeError(e, "GGUF_INVALID")) throw e;
    throw new LodeError("MODEL_LOAD_FAILED", e.message, { details: { path, gguf: e.details }, cause: e });
  }
}

/** The numbers {@link memoryFit} decides on, in bytes. */
export interface MemoryFitInput {
  /** What the new model needs. */
  need: number;
  /** What the models loaded now (and those being unloaded) take. */
  loaded: number;
  /** A fixed budget for all loaded models; without one, `available` decides. */
  budget?: number;
  /** Free RAM now (`MemAvailable`); unknown: not checked. */
  available?: number;
}

/**
 * `fits`: load it now; `evict`: it fits once loaded models are unloaded; `never`: it does not fit even
 * with nothing else loaded.
 *
 * @example
 * ```ts
 * memoryFit({ need: 300, loaded: 400, budget: 600 }); // "evict"
 * memoryFit({ need: 700, loaded: 0, budget: 600 });   // "never"
 * ```
 */
export function memoryFit(input: MemoryFitInput): "fits" | "evict" | "never" {
  const { need, loaded, budget, available } = input;
  if (budget !== undefined) {
    if (need > budget) return "never";
    return loaded + need <= budget ? "fits" : "evict";
  }
  if (available === undefined || need <= available) return "fits";
  return need <= available + loaded ? "evict" : "never";
}

/**
 * The `INSUFFICIENT_MEMORY` error for a model that cannot fit.
 *
 * @example
 * ```ts
 * throw insufficientMemory("big", { need: 8e9, loaded: 0, available: 4e9 });
 * ```
 */
export function insufficientMemory(model: string, input: MemoryFitInput): LodeError {
  const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;
  const limit = input.budget !== undefined
    ? `the daemon's memory budget is ${mib(input.budget)}`
    : `only ${
      mib((input.available ?? 0) + input.loaded)
    } of RAM is free even with every other model unloaded`;
  return new LodeError(
    "INSUFFICIENT_MEMORY",
    `model "${model}" needs about ${mib(input.need)} of RAM in its runner, but ${limit}`,
    {
      details: {
        model,
        needed_bytes: input.need,
        budget_bytes: input.budget ?? null,
        available_bytes: input.available ?? null,
        loaded_bytes: input.loaded,
      },
    },
  );
}
