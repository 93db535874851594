/**
 * A small random-weight llama GGUF with the ChatML chat template (scripts/gen_gguf.ts), for tests of
 * `lode run` / `lode chat` on a model that answers through a template. Its text is junk, by design; it is
 * deterministic at temperature 0.
 *
 * @example
 * ```ts
 * const model = await writeChatModel(`${dir}/chat.gguf`);
 * ```
 * @module
 */
import { CHATML_TEMPLATE, writeGgufModel } from "../../scripts/gen_gguf.ts";

/** Writes the model (default 2 MiB, ~1M parameters) and returns its path. */
export async function writeChatModel(path: string, options: { sizeBytes?: number } = {}): Promise<string> {
  await writeGgufModel(path, {
    sizeBytes: options.sizeBytes ?? 2 * 1024 * 1024,
    chatTemplate: CHATML_TEMPLATE,
  });
  return path;
}
