/**
 * Where the daemon's sockets live, and listening on them safely.
 *
 * Default paths: `$XDG_RUNTIME_DIR/lode/` (per-user, on tmpfs, removed at
 * logout — the place systemd and the XDG spec give to sockets); without
 * `XDG_RUNTIME_DIR` (macOS, containers, cron) `${TMPDIR:-/tmp}/lode-<uid>/`,
 * as tmux does. The directory holds `lode.sock` (inference), `admin.sock`
 * (status stream) and `lode.sock.lock` (the single-instance lock, see
 * instance_lock.ts). {@link prepareSocketDir} creates it `0700` and refuses
 * one owned by another user; sockets are made `0600`, so only the owner can
 * connect even where a directory is shared.
 *
 * {@link listenUnixSocket} removes a stale socket file (one nobody listens
 * on: a daemon that was SIGKILLed) and refuses a live one with
 * `DAEMON_RUNNING`. Call it while holding the instance lock, so two daemons
 * cannot both decide a socket is stale.
 *
 * @example
 * ```ts
 * const paths = defaultDaemonPaths({ runtimeDir: "/run/user/1000", uid: 1000 });
 * await prepareSocketDir(paths.dir, { uid: 1000 });
 * const listener = await listenUnixSocket(paths.socket);
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import { joinPath, parentDir } from "../../path.ts";

/** The daemon's default files. */
export interface DaemonPaths {
  /** The directory they live in. */
  dir: string;
  /** The inference socket. */
  socket: string;
  /** The admin (status stream) socket. */
  adminSocket: string;
  /** The single-instance lock of {@link socket}. */
  lock: string;
}

/** Longest path a Unix socket address holds (`sun_path` is 108 bytes on Linux, 104 on macOS, NUL included). */
export const MAX_SOCKET_PATH_BYTES = 103;

/**
 * The default socket paths for the user `uid` (null where there are no uids):
 * under `$XDG_RUNTIME_DIR/lode` (`runtimeDir`), else `${TMPDIR:-/tmp}/lode-<uid>` (`tmpDir`).
 *
 * @example
 * ```ts
 * defaultDaemonPaths({ uid: 1000 }).socket; // "/tmp/lode-1000/lode.sock"
 * ```
 */
export function defaultDaemonPaths(
  options: { runtimeDir?: string; tmpDir?: string; uid: number | null },
): DaemonPaths {
  const runtime = options.runtimeDir;
  const dir = runtime && runtime.startsWith("/")
    ? joinPath(runtime, "lode")
    : joinPath(options.tmpDir || "/tmp", options.uid === null ? "lode" : `lode-${options.uid}`);
  const socket = joinPath(dir, "lode.sock");
  return { dir, socket, adminSocket: joinPath(dir, "admin.sock"), lock: instanceLockPath(socket) };
}

/**
 * The single-instance lock file of a socket: beside it, `<socket>.lock`.
 *
 * @example
 * ```ts
 * instanceLockPath("/run/user/1000/lode/lode.sock"); // "/run/user/1000/lode/lode.sock.lock"
 * ```
 */
export function instanceLockPath(socket: string): string {
  return `${socket}.lock`;
}

/**
 * Creates the socket directory `0700` (parents too), or checks an existing
 * one: it must be a directory owned by `uid` (when known), and its mode is
 * tightened to `0700`. Use it for lode's own directory, not for a directory
 * the user named (`--socket /tmp/x.sock` must not chmod `/tmp`).
 *
 * @example
 * ```ts
 * await prepareSocketDir("/run/user/1000/lode", { uid: Deno.uid() });
 * ```
 */
export async function prepareSocketDir(dir: string, options: { uid: number | null }): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await Deno.lstat(dir);
  if (!info.isDirectory) {
    throw new LodeError("IO", `the socket directory ${dir} is not a directory`, {
      details: { path: dir },
      hint: "Remove it, or pass --socket and --admin-socket paths elsewhere.",
    });
  }
  if (options.uid !== null && info.uid !== null && info.uid !== options.uid) {
    throw new LodeError(
      "IO",
      `the socket directory ${dir} belongs to uid ${info.uid}, not to you (uid ${options.uid})`,
      {
        details: { path: dir, owner: info.uid },
        hint:
          "Another user may be trying to intercept the daemon: remove the directory, or pass --socket elsewhere.",
      },
    );
  }
  if (info.mode !== null && (info.mode & 0o777) !== 0o700) await Deno.chmod(dir, 0o700);
}

/** A listening Unix socket; `close` stops it and removes its file. */
export interface UnixSocketListener {
  readonly path: string;
  readonly listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  /** True when a stale socket file (no listener) was removed first. */
  readonly removedStale: boolean;
  close(): Promise<void>;
}

/**
 * Listens on the Unix socket `path` with mode `0600`, creating a missing
 * parent directory `0700`. A socket file nobody listens on is removed first;
 * one with a live listener is refused with `DAEMON_RUNNING`; anything else
 * at `path` (a regular file, a directory) is refused and left alone.
 */
export async function listenUnixSocket(path: string): Promise<UnixSocketListener> {
  const length = new TextEncoder().encode(path).length;
  if (length > MAX_SOCKET_PATH_BYTES) {
    throw new LodeError(
      "USAGE",
      `the socket path ${path} is ${length} bytes; Unix sockets allow ${MAX_SOCKET_PATH_BYTES}`,
      {
        details: { path, bytes: length },
        hint: "Pass a shorter --socket / --admin-socket path (or a shorter XDG_RUNTIME_DIR / TMPDIR).",
      },
    );
  }
  await Deno.mkdir(parentDir(path), { recursive: true, mode: 0o700 });
  const removedStale = await clearStaleSocket(path);
  let listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  try {
    listener = Deno.listen({ transport: "unix", path });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) throw inUse(path);
    throw new LodeError("IO", `cannot listen on ${path}: ${(e as Error).message}`, {
      details: { path },
      cause: e,
    });
  }
  try {
    await Deno.chmod(path, 0o600);
  } catch (e) {
    listener.close();
    throw e;
  }
  let closed = false;
  return {
    path,
    listener,
    removedStale,
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        listener.close(); // Deno unlinks the socket file
      } catch { /* already closed */ }
      await Deno.remove(path).catch(() => {});
    },
  };
}

/** True when a stale socket file was removed; throws when `path` is live or not a socket. */
async function clearStaleSocket(path: string): Promise<boolean> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  if (!info.isSocket) {
    throw new LodeError("IO", `${path} exists and is not a socket`, {
      details: { path },
      hint: "Move that file away, or pass another --socket / --admin-socket path. lode never deletes it.",
    });
  }
  if (await isLive(path)) throw inUse(path);
  await Deno.remove(path).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  return true;
}

async function isLive(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionRefused || e instanceof Deno.errors.NotFound) return false;
    throw new LodeError("IO", `cannot check the socket ${path}: ${(e as Error).message}`, {
      details: { path },
      cause: e,
    });
  }
}

function inUse(path: string): LodeError {
  return new LodeError("DAEMON_RUNNING", `something is already listening on ${path}`, {
    details: { socket: path, pid: null },
    hint: "A daemon already serves this socket: use it, stop it, or pass another --socket / --admin-socket.",
  });
}
