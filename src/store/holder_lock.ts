/**
 * A lock file that names its holder: an exclusive lock (`flock`, through {@link acquireFileLock}) whose
 * content is one JSON line describing the process that holds it. A second claimant fails at once; it
 * reads the holder's record ({@link waitForHolder}) to name it in its error. The kernel drops the lock when
 * its holder dies (even by SIGKILL), so a lock left by a dead process is simply taken over, its stale
 * record returned as `previous`.
 *
 * The record is rewritten in place, never renamed over: a rename would swap the inode, and a newcomer
 * could lock the new file while the old one is held. For the same reason release empties the file
 * instead of removing it.
 *
 * The daemon's single-instance lock (src/daemon/wire/instance_lock.ts) and a job's claim
 * (src/jobs/job_claim.ts) are such locks.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { acquireHolderLock } from "./holder_lock.ts";
 * const Holder = z.object({ pid: z.number() });
 * await using lock = await acquireHolderLock("/tmp/x.lock", Holder, { pid: Deno.pid }, { name: "x" });
 * if (lock.previous) console.log(`pid ${lock.previous.pid} held it and is gone`);
 * ```
 * @module
 */
import type { z } from "zod";
import { acquireFileLock } from "./file_lock.ts";
import { readJsonFile } from "./json_file.ts";

/** A held lock. Dispose it (or `release`) when done; dying releases it too. */
export interface HolderLock<T> extends AsyncDisposable {
  readonly path: string;
  /** The record written for this holder. */
  readonly holder: T;
  /** The record of a holder that died without releasing, now taken over; null when the lock was free. */
  readonly previous: T | null;
  release(): Promise<void>;
}

/**
 * Takes the lock at `path` (created with its directory if missing) and writes `holder` in it; throws
 * `LOCK_CONTENDED` (of {@link acquireFileLock}, naming `name`) when another process holds it.
 */
export async function acquireHolderLock<T>(
  path: string,
  schema: z.ZodType<T>,
  holder: T,
  options: { name: string },
): Promise<HolderLock<T>> {
  const lock = await acquireFileLock(path, { name: options.name, wait: false });
  try {
    const previous = await readHolder(path, schema);
    await writeInPlace(path, JSON.stringify(holder) + "\n");
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await writeInPlace(path, "").catch(() => {});
      await lock.release();
    };
    return { path, holder, previous, release, [Symbol.asyncDispose]: release };
  } catch (e) {
    await lock.release();
    throw e;
  }
}

/**
 * The holder's record in the lock file at `path`, or null (no file, empty after a release, not a record).
 * It may name a process that died: only a failed {@link acquireHolderLock} proves the holder alive.
 */
export function readHolder<T>(path: string, schema: z.ZodType<T>): Promise<T | null> {
  return readJsonFile(path, schema);
}

/** The winner of a race may not have written its record yet: reads again for up to `waitMs`. */
export async function waitForHolder<T>(
  path: string,
  schema: z.ZodType<T>,
  waitMs: number,
): Promise<T | null> {
  const deadline = Date.now() + waitMs;
  while (true) {
    const holder = await readHolder(path, schema);
    if (holder !== null || Date.now() >= deadline) return holder;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Replaces the file's content without replacing the file (the lock lives on its inode). */
async function writeInPlace(path: string, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  const file = await Deno.open(path, { write: true });
  try {
    let n = 0;
    while (n < bytes.length) n += await file.write(bytes.subarray(n));
    await file.truncate(bytes.length);
  } finally {
    file.close();
  }
}
