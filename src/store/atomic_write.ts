/**
 * Atomic small-file writes: write a sibling temp file, fsync, rename over.
 * A reader sees the old content or the new one, never half of either.
 *
 * @example
 * ```ts
 * await writeFileAtomic("/store/manifests/m.json", '{"schema_version":1}');
 * ```
 * @module
 */
import { joinPath, parentDir } from "../path.ts";

/**
 * Writes `text` to `path` atomically (temp file in the same directory, fsync, rename). With `sync: false`
 * the temp file is not synced: a reader still sees the old content or the new one, but after a crash of
 * the machine the file may hold either, or nothing (for records that are only hints).
 */
export async function writeFileAtomic(
  path: string,
  text: string,
  options: { sync?: boolean } = {},
): Promise<void> {
  const dir = parentDir(path);
  const tmp = joinPath(dir, `.tmp-${crypto.randomUUID()}`);
  const sync = options.sync !== false;
  try {
    // The directory is there in the common case (a record rewritten): it is made only when missing.
    await writeTemp(tmp, text, sync).catch(async (e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      await Deno.mkdir(dir, { recursive: true });
      await writeTemp(tmp, text, sync);
    });
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** Creates `tmp` with `text`; with `sync`, flushed to disk before it is closed. */
async function writeTemp(tmp: string, text: string, sync: boolean): Promise<void> {
  if (!sync) return await Deno.writeTextFile(tmp, text, { createNew: true });
  using file = await Deno.open(tmp, { write: true, createNew: true });
  await writeAll(file, new TextEncoder().encode(text));
  await file.sync();
}

/** Writes every byte of `bytes` to `file` (a single `write` may write fewer). */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}
