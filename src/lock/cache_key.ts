/**
 * `lode lock key`: a cache key for `actions/cache` and the like, derived from
 * what the lockfile pins — `lode-` and the SHA-256 of its canonical form
 * (see {@link serializeLockfile}). Whitespace, key order and the order of the
 * models in the file do not change the key; any change to a name, a
 * reference, a source field, a URL, a hash or a size does, because any of
 * them changes what the store holds (blobs or manifests).
 *
 * @example
 * ```ts
 * import { readLockfile } from "./lockfile.ts";
 * lockKey(await readLockfile("lode.lock")); // "lode-3f1a…" (64 hex digits)
 * ```
 * @module
 */
import { sha256Bytes } from "../store/hash.ts";
import { type Lockfile, serializeLockfile } from "./lockfile.ts";

/** The cache key of `lock`. */
export function lockKey(lock: Lockfile): string {
  return `lode-${sha256Bytes(serializeLockfile(lock))}`;
}
