/**
 * What the llama.cpp backend checks before it loads anything: the load's options (positive integers, a GPU
 * setting, CPUs to pin) and the model file (there, readable, a file); and the layers a GPU setting offloads.
 *
 * @example
 * ```ts
 * import { assertFile, gpuLayers, validateLoadOptions } from "./llama_cpp_load_checks.ts";
 * validateLoadOptions({ contextSize: 2048, threads: 4 });
 * await assertFile("tests/fixtures/stories260K.gguf");
 * console.log(gpuLayers("off")); // 0
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import type { GpuSetting, LoadOptions } from "./backend.ts";
import { checkCpuAffinity } from "./cpu_affinity.ts";
import { errorMessage } from "./llama_cpp_load_error.ts";

/** The layers node-llama-cpp offloads for a `gpu` setting. */
export function gpuLayers(gpu: GpuSetting | undefined): "auto" | number {
  if (gpu === undefined || gpu === "auto") return "auto";
  return gpu === "off" ? 0 : gpu;
}

/** `USAGE` for a load option out of its range, before anything is loaded. */
export function validateLoadOptions(options: LoadOptions): void {
  const bad = (field: string, value: unknown) =>
    new LodeError("USAGE", `${field} must be a positive integer, got ${String(value)}`, {
      details: { [field]: value },
    });
  for (const field of ["contextSize", "threads", "sequences"] as const) {
    const value = options[field];
    if (value !== undefined && !isPositiveInteger(value)) throw bad(field, value);
  }
  for (const field of ["chatTemplate", "chatTemplateName"] as const) {
    const value: unknown = options[field];
    if (value !== undefined && typeof value !== "string") {
      throw new LodeError("USAGE", `${field} must be a string, got ${typeof value}`, { details: { field } });
    }
  }
  checkCpuAffinity(options.cpus);
  const gpu = options.gpu;
  if (typeof gpu === "number" && !(Number.isInteger(gpu) && gpu >= 0)) {
    throw new LodeError("USAGE", `gpu must be "auto", "off" or a number of layers, got ${gpu}`, {
      details: { gpu },
    });
  }
}

function isPositiveInteger(n: number): boolean {
  return Number.isInteger(n) && n > 0;
}

/** `FILE_NOT_FOUND` for a missing model file, `MODEL_LOAD_FAILED` for one that cannot be read or is no file. */
export async function assertFile(path: string): Promise<void> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new LodeError("FILE_NOT_FOUND", `no such model file: ${path}`, { details: { path }, cause: e });
    }
    throw new LodeError("MODEL_LOAD_FAILED", `cannot read the model file ${path}: ${errorMessage(e)}`, {
      details: { path },
      cause: e,
    });
  }
  if (!stat.isFile) {
    throw new LodeError("MODEL_LOAD_FAILED", `${path} is not a file`, { details: { path } });
  }
}
