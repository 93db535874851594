/**
 * Process plumbing of `deno task bench`: child processes tracked so that Ctrl-C can end them, a cleanup
 * stack, Debian packages installed on demand, and a standalone HTTPS nginx (own prefix, config, pid and
 * logs in a directory of ours, `daemon off`, killed by {@link cleanupAll}) — never the system service.
 *
 * @example
 * ```ts
 * const notes: string[] = [];
 * const nginx = await ensureBin("nginx", ["nginx-light", "nginx"], notes);
 * const server = await startNginx(nginx!, `${dir}/nginx`, { www: `${dir}/www`, certPem, keyPem });
 * // … fetch `${server.url}/file` …
 * await cleanupAll();
 * ```
 * @module
 */
import { processTree, treeUsage } from "./bench_process.ts";

const children = new Set<Deno.ChildProcess>();
const cleanups: (() => Promise<void> | void)[] = [];

/**
 * Registers a cleanup step; {@link cleanupAll} runs them last-in first-out.
 * @example
 * ```ts
 * onCleanup(() => Deno.remove(dir, { recursive: true }));
 * ```
 */
export function onCleanup(step: () => Promise<void> | void): void {
  cleanups.push(step);
}

let cleaning: Promise<void> | null = null;

/**
 * Sends SIGTERM to every running child, then runs the cleanup steps (errors ignored). Runs once: a second
 * caller (the Ctrl-C handler racing the main flow's `finally`) waits for the same cleanup to finish.
 * @example
 * ```ts
 * Deno.addSignalListener("SIGINT", async () => { await cleanupAll(); Deno.exit(130); });
 * ```
 */
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of children) {
      try {
        c.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => {});
  })();
  return cleaning;
}

/** The outcome of {@link exec}. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** A child started by {@link spawnTracked}. */
export interface Spawned {
  child: Deno.ChildProcess;
  /** All of its stderr, once it has exited. */
  stderr: Promise<string>;
}

/** Starts `cmd` with stdin closed and output piped, tracked for {@link cleanupAll}. */
function spawnChild(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string> },
): Deno.ChildProcess {
  const child = new Deno.Command(cmd, {
    args,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  children.add(child);
  return child;
}

/**
 * Starts a command with stdout piped for the caller to read (stdin closed; stderr collected on the side),
 * tracked for {@link cleanupAll} until it exits: for a child that is watched while it runs, and perhaps
 * killed.
 * @example
 * ```ts
 * const { child } = spawnTracked("deno", ["run", "-A", "main.ts", "--json", "pull", url]);
 * for await (const chunk of child.stdout) if (enough(chunk)) child.kill("SIGKILL");
 * const { signal } = await child.status;
 * ```
 */
export function spawnTracked(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string> } = {},
): Spawned {
  const child = spawnChild(cmd, args, options);
  child.status.finally(() => children.delete(child));
  return { child, stderr: new Response(child.stderr).text().catch(() => "") };
}

/**
 * Runs a command to completion (stdin closed, output captured), tracked for {@link cleanupAll}.
 * @example
 * ```ts
 * const r = await exec("openssl", ["dgst", "-sha256", "-r", file]);
 * ```
 */
export async function exec(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string> } = {},
): Promise<Ran> {
  const child = spawnChild(cmd, args, options);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    children.delete(child);
  }
}

async function which(bin: string): Promise<string | null> {
  const script = 'command -v "$1" || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; }';
  const r = await exec("sh", ["-c", script, "sh", bin]);
  return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

let aptUpdated = false;

/**
 * Finds `bin` on PATH (or in /usr/sbin); when missing, runs `apt-get update` (once) and installs the first
 * of `packages` that provides it, adding a line to `notes` that says so. Null when nothing worked.
 * @example
 * ```ts
 * const aria2c = await ensureBin("aria2c", ["aria2"], notes);
 * ```
 */
export async function ensureBin(bin: string, packages: string[], notes: string[]): Promise<string | null> {
  const found = await which(bin);
  if (found) return found;
  const env = { ...Deno.env.toObject(), DEBIAN_FRONTEND: "noninteractive" };
  if (!aptUpdated) {
    console.error(`${bin} missing: running apt-get update`);
    await exec("apt-get", ["update", "-qq"], { env });
    aptUpdated = true;
  }
  for (const pkg of packages) {
    console.error(`installing ${pkg} (apt-get install -y ${pkg})`);
    const r = await exec("apt-get", ["install", "-y", "-qq", "--no-install-recommends", pkg], { env });
    const path = r.code === 0 ? await which(bin) : null;
    if (path) {
      notes.push(`${bin} was missing: installed Debian package ${pkg} with apt-get`);
      return path;
    }
    console.error(`apt-get install ${pkg} failed (exit ${r.code}): ${r.stderr.trim().slice(-400)}`);
  }
  return null;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}

/** Where {@link startNginx} serves, and which nginx it is. */
export interface NginxServer {
  /** `https://127.0.0.1:PORT` */
  url: string;
  /** e.g. `nginx/1.22.1` */
  version: string;
  /** Stops this nginx now (SIGTERM, then SIGKILL after 5 s); {@link cleanupAll} does it otherwise. */
  stop: () => Promise<void>;
  /** User + system CPU seconds nginx's master and worker processes have used so far (0 without /proc). */
  cpuSeconds: () => number;
}

/** What {@link startNginx} serves and how. */
export interface NginxOptions {
  /** Directory served at `/`. */
  www: string;
  certPem: string;
  keyPem: string;
  /** `limit_rate` in bytes per second, per request (= per connection: one request at a time). */
  limitRate?: number;
  /** Write an access log there, in {@link ACCESS_LOG_FORMAT}; default `access_log off`. */
  accessLog?: string;
}

/**
 * The access-log line format {@link startNginx} writes when asked to: time of the write (s), request time
 * (s), status, bytes sent (headers + body), body bytes sent, then the quoted request line and Range header.
 * @example
 * ```ts
 * // 1700000000.123 0.511 206 4194598 4194304 "GET /m.gguf HTTP/1.1" "bytes=0-4194303"
 * ```
 */
export const ACCESS_LOG_FORMAT =
  '$msec $request_time $status $bytes_sent $body_bytes_sent "$request" "$http_range"';

/**
 * Starts a standalone nginx in the foreground (`daemon off`, one worker, `sendfile on`, `access_log off`
 * unless `accessLog` is given, `limit_rate` when `limitRate` is) serving the directory `www` over HTTPS on
 * a free loopback port, with its prefix, config, pid, logs and temp dirs under `dir`. Stopped (SIGTERM,
 * then SIGKILL after 5 s) by `stop()` or {@link cleanupAll}.
 * When run as root its worker drops to `nobody`: `www` and the files in it must be world-readable.
 * @example
 * ```ts
 * const { url } = await startNginx("/usr/sbin/nginx", `${tmp}/nginx`, { www, certPem, keyPem });
 * const slow = await startNginx("/usr/sbin/nginx", `${tmp}/slow`, { www, certPem, keyPem, limitRate: 25e6 });
 * ```
 */
export async function startNginx(nginx: string, dir: string, opts: NginxOptions): Promise<NginxServer> {
  const build = (await exec(nginx, ["-V"])).stderr;
  const version = /nginx version: (\S+)/.exec(build)?.[1] ?? "nginx";
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  await Deno.mkdir(`${dir}/tmp`, { recursive: true });
  await Deno.writeTextFile(`${dir}/leaf.crt`, opts.certPem);
  await Deno.writeTextFile(`${dir}/leaf.key`, opts.keyPem, { mode: 0o600 });
  // Only the temp paths of the modules this build has (nginx-light leaves some out).
  const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .filter((m) => m === "client_body" || !build.includes(`--without-http_${m}_module`))
    .map((m) => `  ${m}_temp_path ${dir}/tmp/${m};`);
  const port = freePort();
  const conf = [
    "worker_processes 1;",
    "daemon off;",
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/logs/error.log warn;`,
    "events { worker_connections 64; }",
    "http {",
    ...(opts.accessLog
      ? [`  log_format bench '${ACCESS_LOG_FORMAT}';`, `  access_log ${opts.accessLog} bench;`]
      : ["  access_log off;"]),
    "  sendfile on;",
    "  tcp_nopush on;",
    "  default_type application/octet-stream;",
    ...temps,
    "  server {",
    `    listen 127.0.0.1:${port} ssl;`,
    `    ssl_certificate ${dir}/leaf.crt;`,
    `    ssl_certificate_key ${dir}/leaf.key;`,
    `    root ${opts.www};`,
    ...(opts.limitRate ? [`    location / { limit_rate ${Math.round(opts.limitRate)}; }`] : []),
    "  }",
    "}",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/nginx.conf`, conf + "\n");
  const child = new Deno.Command(nginx, {
    args: ["-p", `${dir}/`, "-c", `${dir}/nginx.conf`, "-e", `${dir}/logs/error.log`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  children.add(child);
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  const errText = child.stderr.pipeThrough(new TextDecoderStream()).getReader().read()
    .then((r) => r.value ?? "").catch(() => "");
  let stopping: Promise<void> | null = null;
  const stop = () =>
    stopping ??= (async () => {
      if (!exited) child.kill("SIGTERM");
      const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 5000);
      await status;
      clearTimeout(timer);
      children.delete(child);
    })();
  onCleanup(stop);
  for (let i = 0; i < 100 && !exited; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return {
        url: `https://127.0.0.1:${port}`,
        version,
        stop,
        cpuSeconds: () => treeUsage(processTree(child.pid)).cpuS,
      };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const log = await Deno.readTextFile(`${dir}/logs/error.log`).catch(() => "");
  throw new Error(`nginx did not start: ${await errText}\n${log}`);
}
