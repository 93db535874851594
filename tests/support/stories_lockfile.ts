/**
 * A lockfile pinning the stories260K fixture served at `url` (a test origin), as `lode lock add` would
 * write it: name `stories260K`, one model file with its SHA-256 and size.
 *
 * @example
 * ```ts
 * import { writeStoriesLockfile } from "./stories_lockfile.ts";
 * await writeStoriesLockfile("/tmp/w/lode.lock", "https://127.0.0.1:8443/m/stories260K.gguf");
 * ```
 * @module
 */
import { STORIES_FILE } from "./serve_process.ts";

/** SHA-256 of tests/fixtures/stories260K.gguf. */
export const STORIES_SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

/** Writes the lockfile at `path`. */
export async function writeStoriesLockfile(path: string, url: string): Promise<void> {
  const { size } = await Deno.stat(STORIES_FILE);
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      lockfile_version: 1,
      models: [{
        name: "stories260K",
        reference: `${url}#sha256=${STORIES_SHA}`,
        registry: new URL(url).host,
        repo: "",
        revision: "",
        format: "gguf",
        license: null,
        files: [{ role: "model", filename: "stories260K.gguf", url, sha256: STORIES_SHA, size }],
      }],
    }),
  );
}
