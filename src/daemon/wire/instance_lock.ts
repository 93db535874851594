/**
 * One daemon per socket: an exclusive lock file (`flock`, through
 * {@link acquireFileLock}) that also records who holds it — pid, start time,
 * sockets, version — as one JSON line. A second daemon fails at once with
 * `LodeError("DAEMON_RUNNING")` naming the holder's pid. The kernel releases
 * the lock when its holder dies (even by SIGKILL), so a lock left by a dead
 * process is simply taken over; its stale record is returned as `previous`.
 *
 * The record is rewritten in place, never renamed over: a rename would swap
 * the inode and a newcomer could lock the new file while the old one is held.
 * For the same reason release empties the file instead of removing it.
 *
 * @example
 * ```ts
 * await using lock = await acquireInstanceLock("/run/user/1000/lode/lode.sock.lock", {
 *   socket: "/run/user/1000/lode/lode.sock",
 * });
 * if (lock.previous) console.log(`took over from pid ${lock.previous.pid}, which is gone`);
 * ```
 * @module
 */
import { z } from "zod";
import { isLodeError, LodeError } from "../../errors.ts";
import { acquireFileLock } from "../../store/file_lock.ts";
import { VERSION } from "../../version.ts";

/** What the lock file says about its holder. */
export const InstanceRecord = z.object({
  pid: z.number().int().positive(),
  started_at: z.string(),
  version: z.string().optional(),
  socket: z.string().optional(),
  admin_socket: z.string().optional(),
});
export type InstanceRecord = z.infer<typeof InstanceRecord>;

/** Options of {@link acquireInstanceLock}. */
export interface InstanceLockOptions {
  /** The inference socket this daemon serves (recorded, and named in the error). */
  socket?: string;
  /** The admin socket (recorded). */
  adminSocket?: string;
  /** Clock for `started_at`. Default `() => new Date()`. */
  now?: () => Date;
  /** The pid recorded. Default `Deno.pid`. */
  pid?: number;
  /** How long a loser waits for the winner's record to appear before naming it unknown. Default 1000 ms. */
  recordWaitMs?: number;
}

/** A held instance lock. Dispose it (or `release`) on exit; dying releases it too. */
export interface InstanceLock extends AsyncDisposable {
  readonly path: string;
  /** The record written for this daemon. */
  readonly record: InstanceRecord;
  /** The record of a holder that died without releasing, now taken over; null if the lock was free. */
  readonly previous: InstanceRecord | null;
  release(): Promise<void>;
}

/**
 * Takes the single-instance lock at `path` (created with its directory if
 * missing) and records this process in it, or throws
 * `LodeError("DAEMON_RUNNING")` with the holder's pid and start time in the
 * message and `details`.
 */
export async function acquireInstanceLock(
  path: string,
  options: InstanceLockOptions = {},
): Promise<InstanceLock> {
  let fileLock;
  try {
    fileLock = await acquireFileLock(path, { name: "daemon", wait: false });
  } catch (e) {
    if (!isLodeError(e, "LOCK_CONTENDED")) throw e;
    throw runningError(path, await waitForRecord(path, options.recordWaitMs ?? 1000), options.socket);
  }
  try {
    const previous = await readInstanceRecord(path);
    const record: InstanceRecord = {
      pid: options.pid ?? Deno.pid,
      started_at: (options.now ?? (() => new Date()))().toISOString(),
      version: VERSION,
      ...(options.socket === undefined ? {} : { socket: options.socket }),
      ...(options.adminSocket === undefined ? {} : { admin_socket: options.adminSocket }),
    };
    await writeInPlace(path, JSON.stringify(record) + "\n");
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await writeInPlace(path, "").catch(() => {});
      await fileLock.release();
    };
    return { path, record, previous, release, [Symbol.asyncDispose]: release };
  } catch (e) {
    await fileLock.release();
    throw e;
  }
}

/**
 * The record in the lock file at `path`, or null when there is none (no file,
 * empty after a clean exit, or not a record). It may name a process that has
 * died: only a failed {@link acquireInstanceLock} proves the holder is alive.
 */
export async function readInstanceRecord(path: string): Promise<InstanceRecord | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  try {
    const parsed = InstanceRecord.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The winner of a race may not have written its record yet: poll briefly. */
async function waitForRecord(path: string, waitMs: number): Promise<InstanceRecord | null> {
  const deadline = Date.now() + waitMs;
  while (true) {
    const record = await readInstanceRecord(path);
    if (record !== null || Date.now() >= deadline) return record;
    await new Promise((r) => setTimeout(r, 10));
  }
}

function runningError(path: string, holder: InstanceRecord | null, socket: string | undefined): LodeError {
  const where = socket ?? holder?.socket;
  const who = holder === null
    ? "another lode daemon (pid unknown)"
    : `a lode daemon (pid ${holder.pid}, started ${holder.started_at})`;
  return new LodeError("DAEMON_RUNNING", `${who} is already running${where ? ` on ${where}` : ""}`, {
    details: {
      lock: path,
      pid: holder?.pid ?? null,
      started_at: holder?.started_at ?? null,
      socket: where ?? null,
    },
  });
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
