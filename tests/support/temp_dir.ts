/**
 * A temporary directory for one test, removed afterwards whatever happens.
 *
 * @example
 * ```ts
 * await withTempDir(async (dir) => {
 *   await Deno.writeTextFile(`${dir}/f`, "x");
 * }, { prefix: "lode-hash-" });
 * ```
 * @module
 */

/** Runs `body` with a fresh directory (named with `prefix`), then removes it recursively. */
export async function withTempDir<T>(
  body: (dir: string) => Promise<T>,
  options: { prefix?: string } = {},
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: options.prefix ?? "lode-test-" });
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
