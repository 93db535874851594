/**
 * Requests/s and latency of small request/answer exchanges over a Unix socket:
 * a bare NDJSON echo server (the limit) against the daemon's framing —
 * NdjsonConnection + decodeRequest + a `health` frame and a `done` frame per
 * request. The server runs in a child process; clients here, each with one
 * request in flight at a time.
 *
 * Usage: deno run -A scripts/bench_ndjson.ts [--clients 8] [--seconds 3]
 *
 * @example
 * ```sh
 * deno run -A scripts/bench_ndjson.ts --clients 16 --seconds 5
 * ```
 * @module
 */
import { NdjsonConnection } from "../src/daemon/wire/ndjson_connection.ts";
import { PROTOCOL_VERSION } from "../src/daemon/wire/protocol.ts";
import { decodeRequest } from "../src/daemon/wire/decode_request.ts";
import { VERSION } from "../src/version.ts";

const enc = new TextEncoder();

/**
 * A bare NDJSON echo server on the Unix socket `path` (the limit of request/answer over one socket):
 * prints "up" once listening, then echoes every complete line back.
 *
 * @example
 * ```ts
 * await echoServer("/tmp/echo.sock");
 * ```
 */
export async function echoServer(path: string): Promise<void> {
  const listener = Deno.listen({ transport: "unix", path });
  console.log("up");
  for await (const conn of listener) {
    (async () => {
      const buf = new Uint8Array(64 * 1024);
      let pending = new Uint8Array(0);
      while (true) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        const data = new Uint8Array(pending.length + n);
        data.set(pending);
        data.set(buf.subarray(0, n), pending.length);
        const last = data.lastIndexOf(10);
        if (last === -1) {
          pending = data;
          continue;
        }
        pending = data.slice(last + 1);
        const out = data.subarray(0, last + 1);
        let w = 0;
        while (w < out.length) w += await conn.write(out.subarray(w));
      }
      conn.close();
    })();
  }
}

async function daemonServer(path: string): Promise<void> {
  const listener = Deno.listen({ transport: "unix", path });
  console.log("up");
  const started = performance.now();
  for await (const raw of listener) {
    (async () => {
      const conn = new NdjsonConnection(raw);
      for await (const item of conn.lines()) {
        if (item.type !== "line") continue;
        const decoded = decodeRequest(item.bytes);
        if (!decoded.ok) {
          conn.send(decoded.error);
          continue;
        }
        const id = decoded.request.id;
        conn.send({
          id,
          type: "health",
          protocol: PROTOCOL_VERSION,
          version: VERSION,
          status: "ready",
          uptime_ms: Math.round(performance.now() - started),
        });
        conn.send({ id, type: "done" });
      }
      conn.close();
    })();
  }
}

/**
 * One client: sequential requests (`line(i)`, default a `health` request) until `until`, each finished
 * when `terminal` arrives; returns latencies (ms).
 *
 * @example
 * ```ts
 * const ms = await client("/tmp/lode.sock", performance.now() + 3000, '"type":"done"}');
 * ```
 */
export async function client(
  path: string,
  until: number,
  terminal: string,
  line: (i: number) => string = (i) => `{"id":"r${i}","op":"health"}\n`,
): Promise<number[]> {
  const conn = await Deno.connect({ transport: "unix", path });
  const buf = new Uint8Array(64 * 1024);
  const dec = new TextDecoder();
  const latencies: number[] = [];
  let text = "";
  for (let i = 0; performance.now() < until; i++) {
    const t0 = performance.now();
    await conn.write(enc.encode(line(i)));
    while (!text.includes(terminal)) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("server closed");
      text += dec.decode(buf.subarray(0, n));
    }
    text = text.slice(text.indexOf(terminal) + terminal.length);
    text = text.slice(text.indexOf("\n") + 1);
    latencies.push(performance.now() - t0);
  }
  conn.close();
  return latencies;
}

/**
 * Requests/s, p50 and p99 (ms) of sorted-or-not latencies measured over `seconds`.
 *
 * @example
 * ```ts
 * summarize([0.1, 0.2, 0.3], 1); // { rps: 3, p50: 0.2, p99: 0.3 }
 * ```
 */
export function summarize(latencies: number[], seconds: number): { rps: number; p50: number; p99: number } {
  const all = [...latencies].sort((a, b) => a - b);
  const q = (p: number) => all[Math.min(all.length - 1, Math.floor(p * all.length))]!;
  return { rps: Math.round(all.length / seconds), p50: q(0.5), p99: q(0.99) };
}

async function measure(mode: "echo" | "daemon", clients: number, seconds: number) {
  const dir = await Deno.makeTempDir({ prefix: "lode-bench-" });
  const path = `${dir}/s.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, `--serve-${mode}`, path],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await reader.read();
  // Echo answers with the request line; the daemon ends each request with a `done` frame.
  const terminal = mode === "echo" ? '"op":"health"}' : '"type":"done"}';
  const until = performance.now() + seconds * 1000;
  const all = (await Promise.all(Array.from({ length: clients }, () => client(path, until, terminal))))
    .flat();
  child.kill();
  await child.status;
  await Deno.remove(dir, { recursive: true });
  all.sort((a, b) => a - b);
  const q = (p: number) => all[Math.min(all.length - 1, Math.floor(p * all.length))]!;
  return { rps: Math.round(all.length / seconds), p50: q(0.5), p99: q(0.99) };
}

if (import.meta.main) {
  const args = Deno.args;
  if (args[0] === "--serve-echo") await echoServer(args[1]!);
  else if (args[0] === "--serve-daemon") await daemonServer(args[1]!);
  else {
    const flag = (name: string, fallback: number) => {
      const i = args.indexOf(name);
      return i >= 0 ? Number(args[i + 1]) : fallback;
    };
    const clients = flag("--clients", 8);
    const seconds = flag("--seconds", 3);
    const echo = await measure("echo", clients, seconds);
    const daemon = await measure("daemon", clients, seconds);
    const row = (name: string, r: typeof echo) =>
      `${name.padEnd(28)} ${String(r.rps).padStart(8)} req/s   p50 ${r.p50.toFixed(3)} ms   p99 ${
        r.p99.toFixed(3)
      } ms`;
    console.log(`${clients} clients, ${seconds} s each, one request in flight per client`);
    console.log(row("bare NDJSON echo", echo));
    console.log(row("daemon framing (health)", daemon));
    console.log(`ratio: ${(daemon.rps / echo.rps).toFixed(2)}`);
  }
}
