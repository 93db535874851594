/**
 * The path operations lode needs. Not `node:path`: importing it starts
 * Deno's Node compatibility layer, whose start-up time `lode ls` must not pay.
 * Paths use `/`, which Deno accepts on every platform.
 *
 * @example
 * ```ts
 * joinPath("/srv/models", "blobs", "sha256"); // "/srv/models/blobs/sha256"
 * parentDir("/srv/models/blobs"); // "/srv/models"
 * baseName("/srv/m.gguf"); // "m.gguf"
 * absolutePath("models/../store", "/srv"); // "/srv/store"
 * ```
 * @module
 */

/** Joins segments with single `/` separators (a trailing `/` on a segment is dropped). */
export function joinPath(first: string, ...rest: string[]): string {
  let out = first;
  for (const part of rest) {
    if (part === "") continue;
    out = out === "" ? part : `${out.replace(/[/\\]+$/, "")}/${part.replace(/^[/\\]+/, "")}`;
  }
  return out;
}

/** The directory part of `path` (`"/"` for a root entry, `"."` for a bare name). */
export function parentDir(path: string): string {
  const trimmed = path.length > 1 ? path.replace(/[/\\]+$/, "") : path;
  const i = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  if (i < 0) return ".";
  if (i === 0) return trimmed[0]!;
  return trimmed.slice(0, i);
}

/** The last segment of `path`. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[/\\]+$/, "");
  return trimmed.slice(Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\")) + 1);
}

/**
 * `path` made absolute against `cwd` (default: the process's), with `.` and `..` segments resolved and
 * repeated separators collapsed, as `node:path`'s `resolve` does on POSIX.
 */
export function absolutePath(path: string, cwd: string = Deno.cwd()): string {
  const joined = path.startsWith("/") ? path : `${cwd}/${path}`;
  const segments: string[] = [];
  for (const segment of joined.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  return `/${segments.join("/")}`;
}
