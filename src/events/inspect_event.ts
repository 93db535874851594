/**
 * The event of `lode inspect --json`: one line with what lode's GGUF header reader found (src/gguf
 * `GgufSummary`, snake_case). Fields the header does not state are `null`.
 *
 * @example
 * ```ts
 * import { InspectEvent } from "./inspect_event.ts";
 * declare const line: string; // one line of `lode inspect MODEL --json`
 * const e = InspectEvent.parse(JSON.parse(line));
 * console.log(e.architecture, e.parameters, e.quantization);
 * ```
 * @module
 */
import { z } from "zod";

const count = z.number().int().nonnegative();

/** One file of a stored model of several files (its shards, projector, license, chat template). */
export const InspectFile = z.object({
  /** `model`, `shard`, `mmproj`, `license`, `chat_template`, `ollama_template`, … */
  role: z.string(),
  /** The file's name as its source named it. */
  filename: z.string(),
  /** `sha256:HEX`. */
  blob: z.string(),
  size_bytes: count,
  /** Where to read it: its link beside the model's other files. */
  path: z.string(),
});
export type InspectFile = z.infer<typeof InspectFile>;

export const InspectEvent = z.object({
  event: z.literal("inspect"),
  /** The MODEL argument as given. */
  model: z.string(),
  /** The file read (for a store name: its blob, or its first shard's link). */
  path: z.string(),
  gguf_version: count,
  architecture: z.string().nullable(),
  name: z.string().nullable(),
  /** Sum of the tensors' element counts (of every shard of a split model). */
  parameters: count,
  /** `general.file_type` by name (`Q4_K_M`), else the ggml type holding the most bytes. */
  quantization: z.string(),
  quantization_source: z.enum(["file_type", "tensors"]),
  context_length: count.nullable(),
  embedding_length: count.nullable(),
  block_count: count.nullable(),
  head_count: count.nullable(),
  head_count_kv: count.nullable(),
  vocab_size: count.nullable(),
  chat_template: z.boolean(),
  tensor_count: count,
  /** Files of a split model (1 for a single file). */
  split_count: count,
  /** Bytes of the file(s). */
  file_size_bytes: count,
  /** Bytes of tensor data (without alignment padding). */
  tensor_data_bytes: count,
  /** Tensor data bytes by ggml type (`F16`, `Q4_K`, …), largest first. */
  tensor_types: z.record(z.string(), count),
  /** For a store name of a model of several files: every file, the primary one first. */
  files: z.array(InspectFile).optional(),
});
export type InspectEvent = z.infer<typeof InspectEvent>;
