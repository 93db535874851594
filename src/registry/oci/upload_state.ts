/**
 * Where an interrupted blob upload can go on: the registry's upload URL (its `Location`, which names the
 * upload session; no credentials) kept in the store at `locks/uploads/KEY.json`, KEY the SHA-256 of
 * `HOST/REPO sha256:HEX`. Written after each chunk the registry accepted, removed once the blob is
 * complete; the next push of that blob asks the URL how far it got (`GET`, its `Range`) and sends the rest.
 *
 * @example
 * ```ts
 * import { readUploadState, uploadStatePath } from "./upload_state.ts";
 * const path = await uploadStatePath("/srv/models", "127.0.0.1:5000", "m/stories", "sha256:ab");
 * await readUploadState(path); // the upload URL, or null
 * ```
 * @module
 */
import { joinPath } from "../../path.ts";

/** The record's path for `digest` pushed to `host/repository` from the store at `root`. */
export async function uploadStatePath(
  root: string,
  host: string,
  repository: string,
  digest: string,
): Promise<string> {
  const key = new TextEncoder().encode(`${host}/${repository} ${digest}`);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", key));
  const hex = [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
  return joinPath(root, "locks", "uploads", `${hex}.json`);
}

/** The upload URL recorded at `path`, or null. */
export async function readUploadState(path: string): Promise<string | null> {
  try {
    const { location } = JSON.parse(await Deno.readTextFile(path)) as { location?: unknown };
    return typeof location === "string" ? location : null;
  } catch {
    return null;
  }
}

/**
 * Records `location` at `path`: a temp file renamed over it, so a reader sees the old record or the new
 * one. Not fsynced (it is written after every chunk): a process killed keeps it (the page cache is the
 * kernel's); a machine that loses power may lose it, and the next push then starts that blob over.
 */
export async function writeUploadState(path: string, location: string): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  const tmp = `${dir}/.tmp-${crypto.randomUUID()}`;
  try {
    await Deno.writeTextFile(tmp, JSON.stringify({ location }) + "\n");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(tmp, JSON.stringify({ location }) + "\n");
  }
  await Deno.rename(tmp, path);
}

/** Removes the record at `path` (none: nothing to do). */
export async function clearUploadState(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
}
