/**
 * Reading a small JSON record that lode writes whole (temp file + rename: atomic_write.ts): a missing file
 * or one that is not such a record (not JSON, or not of the schema) reads as null; any other error of the
 * file system is thrown.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { readJsonFile } from "./json_file.ts";
 * const record = await readJsonFile("/srv/models/jobs/j1.json", z.object({ id: z.string() }));
 * console.log(record?.id ?? "none");
 * ```
 * @module
 */
import type { z } from "zod";

/** The record in `path` when it is JSON of `schema`; null when there is no file or it is not one. */
export async function readJsonFile<T>(
  path: string,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
): Promise<T | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? parsed.data : null;
}
