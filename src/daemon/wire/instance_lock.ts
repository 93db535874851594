/**
 * One daemon per socket: a lock file that names its holder (src/store/holder_lock.ts) — pid, start time,
 * sockets, version — as one JSON line. A second daemon fails at once with
 * `LodeError("DAEMON_RUNNING")` naming the holder's pid. The kernel releases
 * the lock when its holder dies (even by SIGKILL), so a lock left by a dead
 * process is simply taken over; its stale record is returned as `previous`.
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
import { acquireHolderLock, type HolderLock, readHolder, waitForHolder } from "../../store/holder_lock.ts";
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

/** A held instance lock (`record`: the one written for this daemon). Dispose it (or `release`) on exit; dying releases it too. */
export interface InstanceLock extends HolderLock<InstanceRecord> {
  readonly record: InstanceRecord;
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
  const record: InstanceRecord = {
    pid: options.pid ?? Deno.pid,
    started_at: (options.now ?? (() => new Date()))().toISOString(),
    version: VERSION,
    ...(options.socket === undefined ? {} : { socket: options.socket }),
    ...(options.adminSocket === undefined ? {} : { admin_socket: options.adminSocket }),
  };
  try {
    const lock = await acquireHolderLock(path, InstanceRecord, record, { name: "daemon" });
    return Object.assign(lock, { record });
  } catch (e) {
    if (!isLodeError(e, "LOCK_CONTENDED")) throw e;
    const holder = await waitForHolder(path, InstanceRecord, options.recordWaitMs ?? 1000);
    throw runningError(path, holder, options.socket);
  }
}

/**
 * The record in the lock file at `path`, or null when there is none (no file,
 * empty after a clean exit, or not a record). It may name a process that has
 * died: only a failed {@link acquireInstanceLock} proves the holder is alive.
 */
export function readInstanceRecord(path: string): Promise<InstanceRecord | null> {
  return readHolder(path, InstanceRecord);
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
