/**
 * Split GGUF models (`NAME-00001-of-00003.gguf`, written by llama.cpp's `gguf-split`): the first file
 * holds the metadata, every file some tensors. {@link inspectGgufModel} reads every shard's header
 * (found beside the first by llama.cpp's naming) and sums their tensors into one summary.
 *
 * @example
 * ```ts
 * import { inspectGgufModel } from "./split.ts";
 * const s = await inspectGgufModel("/models/links/big/big-00001-of-00003.gguf");
 * console.log(s.splitCount, s.parameters); // 3, all shards' parameters
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import type { ReadGgufOptions } from "./read_header.ts";
import { type GgufSummary, inspectGguf } from "./summary.ts";

const SHARD_NAME = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

/**
 * The paths of every shard of a split model, from the path of one (llama.cpp's `PREFIX-%05d-of-%05d.gguf`
 * naming), or `undefined` when the name does not follow it.
 * @example
 * ```ts
 * splitPaths("/m/x-00001-of-00003.gguf", 3); // ["/m/x-00001-of-00003.gguf", "/m/x-00002-of-00003.gguf", …]
 * ```
 */
export function splitPaths(path: string, count: number): string[] | undefined {
  const m = SHARD_NAME.exec(path);
  if (!m || Number(m[3]) !== count) return undefined;
  return Array.from({ length: count }, (_, i) => `${m[1]}-${String(i + 1).padStart(5, "0")}-of-${m[3]}.gguf`);
}

/**
 * {@link inspectGguf} for a whole model: for the first shard of a split model, every shard is read and
 * the tensor counts, parameters, bytes and file sizes are summed (the metadata is the first shard's).
 * @example
 * ```ts
 * const s = await inspectGgufModel("tests/fixtures/stories260K.gguf"); // a single file: inspectGguf's
 * ```
 */
export async function inspectGgufModel(path: string, options: ReadGgufOptions = {}): Promise<GgufSummary> {
  const first = await inspectGguf(path, options);
  if (first.splitCount <= 1) return first;
  const paths = splitPaths(path, first.splitCount);
  if (!paths) {
    throw new LodeError(
      "GGUF_INVALID",
      `${path}: a split model (split.count ${first.splitCount}) whose file name does not end in -00001-of-${
        String(first.splitCount).padStart(5, "0")
      }.gguf`,
      {
        details: { path },
        hint: "Inspect the first shard, named as gguf-split wrote it, with its siblings beside it.",
      },
    );
  }
  const total = { ...first, tensorTypes: { ...first.tensorTypes } };
  for (const shard of paths.slice(1)) {
    const s = await inspectGguf(shard, options);
    total.parameters += s.parameters;
    total.tensorCount += s.tensorCount;
    total.fileSize += s.fileSize;
    total.tensorDataBytes += s.tensorDataBytes;
    for (const [type, bytes] of Object.entries(s.tensorTypes)) {
      total.tensorTypes[type] = (total.tensorTypes[type] ?? 0) + bytes;
    }
  }
  total.tensorTypes = Object.fromEntries(Object.entries(total.tensorTypes).sort((a, b) => b[1] - a[1]));
  if (total.quantizationSource === "tensors") total.quantization = Object.keys(total.tensorTypes)[0]!;
  return total;
}
