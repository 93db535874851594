/**
 * A real `lode serve` child process for tests: a store with stories260K
 * imported, sockets in the test's directory, and helpers to wait for it to
 * answer and to stop it with a signal.
 *
 * @example
 * ```ts
 * const daemon = await startServe(dir, ["--threads", "1"]);
 * const client = await FrameClient.connect(daemon.socket);
 * const { code } = await daemon.stop();
 * ```
 * @module
 */
import { finish, type LodeRun, runLode, spawnLode } from "./lode_cli.ts";

/** The real stories260K model. */
export const STORIES_FILE: string = new URL("../fixtures/stories260K.gguf", import.meta.url).pathname;

/** A running `lode serve`. */
export interface ServeProcess {
  child: Deno.ChildProcess;
  store: string;
  socket: string;
  adminSocket: string;
  /** SIGTERM (or `signal`), then the process's output and exit code. */
  stop(signal?: Deno.Signal): Promise<LodeRun>;
}

/** Makes `<dir>/store` with stories260K imported under that name. */
export async function storeWithStories(dir: string): Promise<string> {
  const store = `${dir}/store`;
  const r = await runLode(["import", STORIES_FILE, "--name", "stories260K"], { store });
  if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
  return store;
}

/** Resolves once something accepts connections on `path` (rejects after `timeoutMs`). */
export async function waitForSocket(path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      const conn = await Deno.connect({ transport: "unix", path });
      conn.close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`nothing listens on ${path} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/**
 * Spawns `lode serve --socket <dir>/lode.sock` on `store` with `args` (and
 * `env` added to its environment) and waits until its inference socket
 * accepts connections (`ready`).
 */
export async function startServe(
  dir: string,
  store: string,
  args: string[] = [],
  options: { wait?: boolean; env?: Record<string, string> } = {},
): Promise<ServeProcess> {
  const socket = `${dir}/lode.sock`;
  const adminSocket = `${dir}/lode.admin.sock`;
  const child = spawnLode(["serve", "--socket", socket, "--threads", "1", ...args], {
    store,
    ...(options.env ? { env: options.env } : {}),
  });
  let finished: Promise<LodeRun> | null = null;
  const done = () => finished ??= finish(child);
  if (options.wait !== false) {
    const exited = done().then((r) => {
      throw new Error(`lode serve exited ${r.code}: ${r.stderr}`);
    });
    exited.catch(() => {}); // only an exit before the socket answers is a failure
    await Promise.race([waitForSocket(socket), exited]);
  }
  return {
    child,
    store,
    socket,
    adminSocket,
    stop: (signal: Deno.Signal = "SIGTERM") => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      return done();
    },
  };
}
