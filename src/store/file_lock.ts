/**
 * Exclusive file locks across processes (`flock` through `Deno.FsFile.lock`).
 * A contended lock either waits (and says so once through `onWait`) or, with
 * `wait: false`, fails at once with `LOCK_CONTENDED`. The lock is released when
 * the returned handle is disposed or the process dies — a SIGKILLed holder never
 * leaves a stale lock behind.
 *
 * @example
 * ```ts
 * await using _lock = await acquireFileLock("/store/locks/m.lock", { name: "m", onWait: () => console.error("waiting") });
 * ```
 * @module
 */
import { parentDir } from "../path.ts";
import { LodeError } from "../errors.ts";

/** Options of {@link acquireFileLock}. */
export interface FileLockOptions {
  /** What the lock protects, for messages (a model name or a blob digest). */
  name: string;
  /** `false`: fail with `LOCK_CONTENDED` instead of waiting. Default `true`. */
  wait?: boolean;
  /** Called once when the lock is held by someone else and we start waiting. */
  onWait?: () => void;
}

/** A held lock; dispose it (or call `release`) to let others in. */
export interface FileLock extends AsyncDisposable {
  readonly path: string;
  release(): Promise<void>;
}

/** Takes an exclusive lock on `path` (created if missing). */
export async function acquireFileLock(path: string, options: FileLockOptions): Promise<FileLock> {
  await Deno.mkdir(parentDir(path), { recursive: true });
  const file = await Deno.open(path, { read: true, write: true, create: true });
  try {
    if (!(await file.tryLock(true))) {
      if (options.wait === false) {
        throw new LodeError("LOCK_CONTENDED", `"${options.name}" is locked by another lode process`, {
          details: { name: options.name, lock: path },
        });
      }
      options.onWait?.();
      await file.lock(true);
    }
  } catch (e) {
    file.close();
    throw e;
  }
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await file.unlock().catch(() => {});
    file.close();
  };
  return { path, release, [Symbol.asyncDispose]: release };
}
