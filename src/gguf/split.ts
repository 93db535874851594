/**
 * Split GGUF models (`NAME-00001-of-00003.gguf`, written by llama.cpp's `gguf-split`): the first file
 * holds the metadata, every file some tensors. {@link readGgufModelHeader} reads every shard's header
 * (found beside the first by llama.cpp's naming) into one; {@link inspectGgufModel} summarizes it.
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
import type { GgufHeader } from "./gguf_types.ts";
import { readGgufHeader, type ReadGgufOptions } from "./read_header.ts";
import { type GgufSummary, summarizeGguf } from "./summary.ts";

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
 * The header of a whole model: for the first shard of a split model, every shard's header is read (found
 * beside it by llama.cpp's naming) and their tensors and file sizes are added to the first's (the
 * metadata is the first shard's). A single file's header is returned as read. Rejects with
 * `GGUF_INVALID` when a split model's file name does not follow the naming (llama.cpp could not find
 * its shards either), and like {@link readGgufHeader} when a shard is missing or malformed.
 * @example
 * ```ts
 * const h = await readGgufModelHeader("/models/links/big/big-00001-of-00003.gguf");
 * console.log(h.tensors.length, h.fileSize); // all shards' tensors, all shards' bytes
 * ```
 */
export async function readGgufModelHeader(path: string, options: ReadGgufOptions = {}): Promise<GgufHeader> {
  const first = await readGgufHeader(path, options);
  const count = summarizeGguf(first).splitCount;
  if (count <= 1) return first;
  const paths = splitPaths(path, count);
  if (!paths) {
    throw new LodeError(
      "GGUF_INVALID",
      `${path}: a split model (split.count ${count}) whose file name does not end in -00001-of-${
        String(count).padStart(5, "0")
      }.gguf`,
      {
        details: { path },
        hint: "Inspect the first shard, named as gguf-split wrote it, with its siblings beside it.",
      },
    );
  }
  const whole = { ...first, tensors: [...first.tensors] };
  for (const shard of paths.slice(1)) {
    const h = await readGgufHeader(shard, options);
    whole.tensors.push(...h.tensors);
    whole.fileSize += h.fileSize;
  }
  return whole;
}

/**
 * `inspectGguf` for a whole model: the summary of {@link readGgufModelHeader}'s header, so a split
 * model's tensor counts, parameters, bytes and file sizes are every shard's.
 * @example
 * ```ts
 * const s = await inspectGgufModel("tests/fixtures/stories260K.gguf"); // a single file: inspectGguf's
 * ```
 */
export async function inspectGgufModel(path: string, options: ReadGgufOptions = {}): Promise<GgufSummary> {
  return summarizeGguf(await readGgufModelHeader(path, options));
}
