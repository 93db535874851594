/**
 * lode's bounded GGUF header reader and model summary. A leaf module: it imports nothing from lode but
 * `src/errors.ts`.
 *
 * @example
 * ```ts
 * import { inspectGguf, readGgufHeader } from "./mod.ts";
 * const header = await readGgufHeader("tests/fixtures/stories260K.gguf");
 * const summary = await inspectGguf("tests/fixtures/stories260K.gguf");
 * console.log(header.tensors.length, summary.parameters); // 48 292800
 * ```
 * @module
 */
export { BoundedReader, type BoundedReaderOptions } from "./bounded_reader.ts";
export {
  fileTypeName,
  GGML_TYPES,
  type GgmlTypeInfo,
  ggmlTypeName,
  LLAMA_FILE_TYPES,
  tensorBytes,
  tensorElements,
} from "./ggml_types.ts";
export {
  alignUp,
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_TYPE,
  type GgufArrayValue,
  type GgufHeader,
  type GgufScalar,
  type GgufScalarValue,
  type GgufTensorInfo,
  type GgufValue,
  scalarSize,
} from "./gguf_types.ts";
export { DEFAULT_GGUF_LIMITS, type GgufLimits, resolveLimits } from "./limits.ts";
export { type GgufSource, readGgufHeader, type ReadGgufOptions } from "./read_header.ts";
export { inspectGgufModel, readGgufModelHeader, splitPaths } from "./split.ts";
export { type GgufSummary, inspectGguf, summarizeGguf } from "./summary.ts";
