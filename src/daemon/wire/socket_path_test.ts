import assert from "node:assert/strict";
import { isLodeError } from "../../errors.ts";
import {
  defaultDaemonPaths,
  instanceLockPath,
  listenUnixSocket,
  MAX_SOCKET_PATH_BYTES,
  prepareSocketDir,
} from "./socket_path.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";

const withDir = (body: (dir: string) => Promise<void>) => withTempDir(body, { prefix: "lode-sp-" });
const mode = async (path: string) => ((await Deno.lstat(path)).mode ?? 0) & 0o777;

/** Leaves a stale socket file at `path`: a child process listens on it and is SIGKILLed. */
async function staleSocket(path: string): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `Deno.listen({ transport: "unix", path: ${
        JSON.stringify(path)
      } }); console.log("up"); setInterval(() => {}, 1e6);`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  assert.equal((await reader.read()).value?.trim(), "up");
  child.kill("SIGKILL");
  await child.status;
  while (!(await reader.read()).done) { /* drain */ }
  assert.ok((await Deno.lstat(path)).isSocket, "the killed listener left its socket file");
}

Deno.test("defaultDaemonPaths: XDG_RUNTIME_DIR/lode, else TMPDIR or /tmp with the uid", () => {
  assert.deepEqual(defaultDaemonPaths({ runtimeDir: "/run/user/1000", uid: 1000 }), {
    dir: "/run/user/1000/lode",
    socket: "/run/user/1000/lode/lode.sock",
    adminSocket: "/run/user/1000/lode/admin.sock",
    lock: "/run/user/1000/lode/lode.sock.lock",
  });
  assert.equal(defaultDaemonPaths({ uid: 1000 }).socket, "/tmp/lode-1000/lode.sock");
  assert.equal(
    defaultDaemonPaths({ tmpDir: "/var/tmp/", uid: 7 }).adminSocket,
    "/var/tmp/lode-7/admin.sock",
  );
  // An empty or relative XDG_RUNTIME_DIR is ignored, as the XDG spec says.
  assert.equal(defaultDaemonPaths({ runtimeDir: "", uid: 7 }).dir, "/tmp/lode-7");
  assert.equal(defaultDaemonPaths({ runtimeDir: "run", uid: 7 }).dir, "/tmp/lode-7");
  assert.equal(defaultDaemonPaths({ uid: null }).dir, "/tmp/lode");
  assert.equal(instanceLockPath("/a/b.sock"), "/a/b.sock.lock");
});

Deno.test("prepareSocketDir: created 0700, a loose one tightened, a file refused", async () => {
  await withDir(async (dir) => {
    const uid = Deno.uid();
    await prepareSocketDir(`${dir}/run/lode`, { uid });
    assert.equal(await mode(`${dir}/run/lode`), 0o700);
    await Deno.mkdir(`${dir}/loose`, { mode: 0o755 });
    await Deno.chmod(`${dir}/loose`, 0o755);
    await prepareSocketDir(`${dir}/loose`, { uid });
    assert.equal(await mode(`${dir}/loose`), 0o700);
    await Deno.writeTextFile(`${dir}/file`, "");
    const e = await prepareSocketDir(`${dir}/file`, { uid }).then(() => null, (e) => e);
    assert.ok(e !== null);
  });
});

Deno.test("prepareSocketDir refuses a directory owned by another user", async () => {
  await withDir(async (dir) => {
    const theirs = `${dir}/theirs`;
    await Deno.mkdir(theirs);
    if (Deno.uid() === 0) {
      await Deno.chown(theirs, 65534, 65534);
      const e = await prepareSocketDir(theirs, { uid: 0 }).then(() => null, (e) => e);
      assert.ok(isLodeError(e, "IO"), String(e));
      assert.match(e.message, /belongs to uid 65534/);
    } else {
      // Not root: pretend to be someone else instead.
      const e = await prepareSocketDir(theirs, { uid: Deno.uid()! + 1 }).then(() => null, (e) => e);
      assert.ok(isLodeError(e, "IO"), String(e));
    }
  });
});

Deno.test("listenUnixSocket: a 0600 socket that accepts; close removes the file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/new/lode.sock`;
    const socket = await listenUnixSocket(path);
    assert.equal(socket.removedStale, false);
    assert.equal(await mode(path), 0o600);
    assert.equal(await mode(`${dir}/new`), 0o700);
    const [client, server] = await Promise.all([
      Deno.connect({ transport: "unix", path }),
      socket.listener.accept(),
    ]);
    await client.write(new TextEncoder().encode("x"));
    const buf = new Uint8Array(1);
    assert.equal(await server.read(buf), 1);
    client.close();
    server.close();
    await socket.close();
    await socket.close();
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  });
});

Deno.test("listenUnixSocket: a stale socket file (its daemon was killed) is removed and replaced", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/lode.sock`;
    await staleSocket(path);
    const socket = await listenUnixSocket(path);
    try {
      assert.equal(socket.removedStale, true);
      const [client, server] = await Promise.all([
        Deno.connect({ transport: "unix", path }),
        socket.listener.accept(),
      ]);
      client.close();
      server.close();
    } finally {
      await socket.close();
    }
  });
});

Deno.test("listenUnixSocket: a live socket is refused with DAEMON_RUNNING and keeps working", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/lode.sock`;
    const first = await listenUnixSocket(path);
    try {
      const e = await listenUnixSocket(path).then(() => null, (e) => e);
      assert.ok(isLodeError(e, "DAEMON_RUNNING"), String(e));
      assert.match(e.message, /already listening/);
      const [client, server] = await Promise.all([
        Deno.connect({ transport: "unix", path }),
        first.listener.accept(),
      ]);
      client.close();
      server.close();
    } finally {
      await first.close();
    }
  });
});

Deno.test("listenUnixSocket: a regular file in the way is refused and left alone; a long path is USAGE", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/lode.sock`;
    await Deno.writeTextFile(path, "precious");
    const e = await listenUnixSocket(path).then(() => null, (e) => e);
    assert.ok(isLodeError(e, "IO"), String(e));
    assert.match(e.message, /not a socket/);
    assert.equal(await Deno.readTextFile(path), "precious");
    const long = `${dir}/${"x".repeat(MAX_SOCKET_PATH_BYTES)}.sock`;
    const tooLong = await listenUnixSocket(long).then(() => null, (e) => e);
    assert.ok(isLodeError(tooLong, "USAGE"), String(tooLong));
  });
});
