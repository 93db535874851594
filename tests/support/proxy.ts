/**
 * A real forward proxy for tests: Debian's `tinyproxy` as a child process on 127.0.0.1, with its own
 * temporary config and log file. The log is how a test proves that a request went through it
 * (`CONNECT 127.0.0.1:PORT` for https, `GET http://…` for plain http) — or that it did not.
 *
 * Install with `apt-get install -y tinyproxy` (Debian 12 ships 1.11.1). Nothing is started as a
 * service: the package's own daemon is never used.
 *
 * @module
 */

/** Options of {@linkcode startProxy}. */
export interface ProxyOptions {
  /** Require `Proxy-Authorization: Basic …` (tinyproxy accepts only `[-A-Za-z0-9._]` here). */
  basicAuth?: { username: string; password: string };
  /** Ports that CONNECT may reach (default: every port). */
  connectPorts?: number[];
}

/** A running tinyproxy. */
export interface TestProxy {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** The whole log so far. */
  log(): Promise<string>;
  /** Requests received so far, as `METHOD TARGET` (`CONNECT 127.0.0.1:8443`, `GET http://127.0.0.1:80/x`). */
  targets(): string[];
  /** How many requests (CONNECTs and forwarded GETs) the proxy has received so far. */
  requests(): number;
  /** Stops tinyproxy (SIGTERM, then SIGKILL after 2 s) and removes its directory. */
  close(): Promise<void>;
}

/**
 * Why tinyproxy cannot be used here, or null when it can (its binary runs).
 *
 * @example
 * ```ts
 * import { tinyproxyMissing } from "./proxy.ts";
 *
 * const missing = await tinyproxyMissing();
 * Deno.test({ name: "through a proxy", ignore: missing !== null, fn: () => {} });
 * ```
 */
export async function tinyproxyMissing(): Promise<string | null> {
  try {
    const out = await new Deno.Command("tinyproxy", { args: ["-v"], stdout: "piped", stderr: "piped" })
      .output();
    return out.success ? null : `tinyproxy -v failed with exit ${out.code}`;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return "tinyproxy is not installed (apt-get install -y tinyproxy)";
    }
    throw e;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function configText(port: number, logFile: string, options: ProxyOptions): string {
  const lines = [
    `Port ${port}`,
    "Listen 127.0.0.1",
    "Allow 127.0.0.1",
    `LogFile "${logFile}"`,
    // CONNECT level logs every request line ("Request (file descriptor N): CONNECT host:port HTTP/1.1").
    "LogLevel Connect",
    "Timeout 60",
    "MaxClients 64",
  ];
  for (const p of options.connectPorts ?? []) lines.push(`ConnectPort ${p}`);
  if (options.basicAuth) lines.push(`BasicAuth ${options.basicAuth.username} ${options.basicAuth.password}`);
  return lines.join("\n") + "\n";
}

async function waitListening(
  port: number,
  child: Deno.ChildProcess,
  exited: () => boolean,
): Promise<boolean> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && !exited()) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  if (!exited()) child.kill("SIGKILL");
  return false;
}

const REQUEST = /Request \(file descriptor \d+\): (\S+) (\S+) HTTP/;

/**
 * Starts tinyproxy on a free port of 127.0.0.1 in the foreground (`-d`), logging to a file of its own.
 * Throws a clear error when tinyproxy is not installed.
 *
 * @example
 * ```ts
 * import { startProxy } from "./proxy.ts";
 *
 * const proxy = await startProxy();
 * const client = Deno.createHttpClient({ proxy: { url: proxy.url } });
 * // await fetch("https://127.0.0.1:8443/x", { client }) … then:
 * console.log(proxy.targets()); // ["CONNECT 127.0.0.1:8443"]
 * client.close();
 * await proxy.close();
 * ```
 */
export async function startProxy(options: ProxyOptions = {}): Promise<TestProxy> {
  const missing = await tinyproxyMissing();
  if (missing) throw new Error(`startProxy: ${missing}`);
  const dir = await Deno.makeTempDir({ prefix: "lode-proxy-" });
  const logFile = `${dir}/tinyproxy.log`;
  // tinyproxy cannot listen on port 0: take a free port and hope nobody grabs it first (retried).
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = freePort();
    await Deno.writeTextFile(`${dir}/tinyproxy.conf`, configText(port, logFile, options));
    const child = new Deno.Command("tinyproxy", {
      args: ["-d", "-c", `${dir}/tinyproxy.conf`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    const stderr = new Response(child.stderr).text();
    if (await waitListening(port, child, () => exited)) {
      return handle({ dir, port, logFile, child, status, stderr });
    }
    const s = await status;
    const why = `${(await stderr).trim()}\n${await Deno.readTextFile(logFile).catch(() => "")}`.trim();
    if (attempt === 5 || !/Address already in use|Could not create listening socket/i.test(why)) {
      await Deno.remove(dir, { recursive: true });
      throw new Error(`tinyproxy did not start (exit ${s.code}): ${why}`);
    }
  }
  throw new Error("unreachable");
}

function handle(h: {
  dir: string;
  port: number;
  logFile: string;
  child: Deno.ChildProcess;
  status: Promise<Deno.CommandStatus>;
  stderr: Promise<string>;
}): TestProxy {
  let closed = false;
  const targets = (): string[] => {
    let text: string;
    try {
      text = Deno.readTextFileSync(h.logFile);
    } catch {
      return [];
    }
    return text.split("\n").flatMap((line) => {
      const m = REQUEST.exec(line);
      return m ? [`${m[1]} ${m[2]}`] : [];
    });
  };
  return {
    url: `http://127.0.0.1:${h.port}`,
    port: h.port,
    log: () => Deno.readTextFile(h.logFile).catch(() => ""),
    targets,
    requests: () => targets().length,
    async close() {
      if (closed) return;
      closed = true;
      try {
        h.child.kill("SIGTERM");
      } catch {
        // already exited
      }
      const timer = setTimeout(() => {
        try {
          h.child.kill("SIGKILL");
        } catch {
          // already exited
        }
      }, 2000);
      await h.status;
      clearTimeout(timer);
      await h.stderr.catch(() => "");
      await Deno.remove(h.dir, { recursive: true });
    },
  };
}
