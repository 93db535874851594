/**
 * What a person (or the memory preflight) wants to know about a GGUF model, from its header alone:
 * architecture, parameter count, quantization, context and embedding length, layers, heads, whether it
 * has a chat template, tensor count and bytes.
 *
 * @example
 * ```ts
 * import { inspectGguf } from "./summary.ts";
 * const s = await inspectGguf("tests/fixtures/stories260K.gguf");
 * console.log(s.architecture, s.parameters, s.quantization); // llama 292800 F32
 * ```
 * @module
 */
import { fileTypeName, ggmlTypeName, tensorBytes, tensorElements } from "./ggml_types.ts";
import type { GgufHeader, GgufValue } from "./gguf_types.ts";
import { type GgufSource, readGgufHeader, type ReadGgufOptions } from "./read_header.ts";

/** The summary of a GGUF model. Fields the header does not state are `null`. */
export interface GgufSummary {
  /** GGUF version (2 or 3). */
  version: number;
  /** `general.architecture` (`llama`, `qwen3`, …). */
  architecture: string | null;
  /** `general.name`. */
  name: string | null;
  /** Sum of the tensors' element counts. */
  parameters: number;
  /** `general.file_type` by name (`Q4_K_M`), else the ggml type holding the most bytes (`F16`). */
  quantization: string;
  /** Where {@link quantization} came from. */
  quantizationSource: "file_type" | "tensors";
  /** `<arch>.context_length`: the context the model was trained with. */
  contextLength: number | null;
  /** `<arch>.embedding_length` (n_embd). */
  embeddingLength: number | null;
  /** `<arch>.feed_forward_length` (n_ff; the largest, when given per layer). */
  feedForwardLength: number | null;
  /** `<arch>.block_count`: transformer layers. */
  blockCount: number | null;
  /** `<arch>.attention.head_count` (the largest, when given per layer). */
  headCount: number | null;
  /** `<arch>.attention.head_count_kv`, else the head count (no GQA); the largest when per layer. */
  headCountKv: number | null;
  /** Per-head size of K: `<arch>.attention.key_length`, else embedding length / head count. */
  keyLength: number | null;
  /** Per-head size of V: `<arch>.attention.value_length`, else embedding length / head count. */
  valueLength: number | null;
  /** `<arch>.vocab_size`, else the length of `tokenizer.ggml.tokens`. */
  vocabSize: number | null;
  /** True when `tokenizer.chat_template` is a non-empty string. */
  chatTemplate: boolean;
  tensorCount: number;
  /** `split.count`: the files of a split model (1 for a single file); the counts here are this file's. */
  splitCount: number;
  fileSize: number;
  /** Bytes of tensor data (without alignment padding). */
  tensorDataBytes: number;
  /** Where the tensor data section starts. */
  dataOffset: number;
  alignment: number;
  /** Tensor data bytes by ggml type name, largest first. */
  tensorTypes: Record<string, number>;
}

/**
 * A metadata value as a count: a non-negative safe integer (a float or a negative value from a hostile
 * file is `null`); the largest item of a kept numeric array.
 */
function num(v: GgufValue | undefined): number | null {
  if (v === undefined) return null;
  const one = (x: unknown): number | null =>
    typeof x === "number" && Number.isSafeInteger(x) && x >= 0
      ? x
      : typeof x === "bigint" && x >= 0n && x <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(x)
      : null;
  if (!Array.isArray(v.value)) return one(v.value);
  const items = v.value.map(one).filter((x): x is number => x !== null);
  return items.length > 0 ? Math.max(...items) : null;
}

function str(v: GgufValue | undefined): string | null {
  return typeof v?.value === "string" ? v.value : null;
}

/**
 * Summarizes a header read by {@link readGgufHeader}.
 * @example
 * ```ts
 * import { readGgufHeader } from "./read_header.ts";
 * const s = summarizeGguf(await readGgufHeader("tests/fixtures/stories260K.gguf"));
 * console.log(`${s.architecture} ${s.parameters} params ${s.quantization}`);
 * ```
 */
export function summarizeGguf(header: GgufHeader): GgufSummary {
  const md = header.metadata;
  const architecture = str(md.get("general.architecture"));
  const arch = (key: string) => (architecture === null ? undefined : md.get(`${architecture}.${key}`));
  const byType = new Map<string, number>();
  let parameters = 0;
  let tensorDataBytes = 0;
  for (const t of header.tensors) {
    const bytes = tensorBytes(t);
    parameters += tensorElements(t);
    tensorDataBytes += bytes;
    const name = ggmlTypeName(t.type);
    byType.set(name, (byType.get(name) ?? 0) + bytes);
  }
  const tensorTypes = Object.fromEntries([...byType].sort((a, b) => b[1] - a[1]));
  const fileType = num(md.get("general.file_type"));
  const named = fileType === null ? undefined : fileTypeName(fileType);
  const embeddingLength = num(arch("embedding_length"));
  const headCount = num(arch("attention.head_count"));
  const perHead = embeddingLength !== null && headCount && embeddingLength % headCount === 0
    ? embeddingLength / headCount
    : null;
  const tokens = md.get("tokenizer.ggml.tokens");
  const template = str(md.get("tokenizer.chat_template"));
  return {
    version: header.version,
    architecture,
    name: str(md.get("general.name")),
    parameters,
    quantization: named ?? Object.keys(tensorTypes)[0] ?? "unknown",
    quantizationSource: named ? "file_type" : "tensors",
    contextLength: num(arch("context_length")),
    embeddingLength,
    feedForwardLength: num(arch("feed_forward_length")),
    blockCount: num(arch("block_count")),
    headCount,
    headCountKv: num(arch("attention.head_count_kv")) ?? headCount,
    keyLength: num(arch("attention.key_length")) ?? perHead,
    valueLength: num(arch("attention.value_length")) ?? perHead,
    vocabSize: num(arch("vocab_size")) ?? (tokens && "length" in tokens ? tokens.length : null),
    chatTemplate: template !== null && template.length > 0,
    tensorCount: header.tensors.length,
    splitCount: Math.max(1, num(md.get("split.count")) ?? 1),
    fileSize: header.fileSize,
    tensorDataBytes,
    dataOffset: header.dataOffset,
    alignment: header.alignment,
    tensorTypes,
  };
}

/**
 * Reads a GGUF file's header and summarizes it (rejects with `GGUF_INVALID` like {@link readGgufHeader}).
 * @example
 * ```ts
 * const s = await inspectGguf("tests/fixtures/stories260K.gguf");
 * console.log(s.contextLength, s.blockCount, s.chatTemplate); // 2048 5 false
 * ```
 */
export async function inspectGguf(source: GgufSource, options: ReadGgufOptions = {}): Promise<GgufSummary> {
  return summarizeGguf(await readGgufHeader(source, options));
}
