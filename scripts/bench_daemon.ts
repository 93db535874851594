/**
 * The daemon's overheads, measured against their limits:
 *
 * 1. Requests/s and p50/p99 latency of `health` and `tokenize` over the
 *    inference socket of a real `lode serve` (stories260K preloaded in its
 *    runner), against a bare NDJSON echo server on the same kind of socket
 *    (scripts/bench_ndjson.ts) — N clients, one request in flight each.
 * 2. Tokens/s of a greedy stories260K generation streamed through the daemon
 *    (socket → server → runner → server → socket, one `token` frame per
 *    chunk) against the same generation in this process, same threads.
 *    Rounds alternate; medians. "consumer" is tokens over the time from the
 *    request to its end as the client sees it; "decode" is between the first
 *    and the last token received.
 *
 * Usage: deno run -A scripts/bench_daemon.ts [--clients 8] [--seconds 3] [--tokens 1000] [--rounds 5]
 *
 * @example
 * ```sh
 * deno run -A scripts/bench_daemon.ts --clients 8 --seconds 3 --tokens 1000 --rounds 5
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { createLlamaCppBackend } from "../src/inference/llama_cpp_backend.ts";
import { client, summarize } from "./bench_ndjson.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MODEL = `${ROOT}tests/fixtures/stories260K.gguf`;
const PROMPT = "Once upon a time";
const enc = new TextEncoder();

async function waitForSocket(path: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    try {
      (await Deno.connect({ transport: "unix", path })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error(`nothing listens on ${path}`);
}

function lode(args: string[], store: string): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, ...args],
    env: { MODELS_HOME: store },
    stdout: "null",
    stderr: "null",
  });
}

async function rate(
  path: string,
  clients: number,
  seconds: number,
  terminal: string,
  line?: (i: number) => string,
) {
  const until = performance.now() + seconds * 1000;
  const all = await Promise.all(Array.from({ length: clients }, () => client(path, until, terminal, line)));
  return summarize(all.flat(), seconds);
}

/** One generation through the daemon: consumer and decode tokens/s, and the text. */
async function viaDaemon(path: string, tokens: number) {
  const conn = await Deno.connect({ transport: "unix", path });
  const dec = new TextDecoder();
  const buf = new Uint8Array(256 * 1024);
  const t0 = performance.now();
  await conn.write(enc.encode(
    JSON.stringify({
      id: "g",
      op: "generate",
      model: "stories260K",
      prompt: PROMPT,
      max_tokens: tokens,
      temperature: 0,
    }) + "\n",
  ));
  let pending = "";
  let first: number | null = null;
  let text = "";
  let count = 0;
  while (true) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("the daemon closed the connection");
    const lines = (pending + dec.decode(buf.subarray(0, n), { stream: true })).split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      const frame = JSON.parse(line);
      if (frame.type === "token") {
        first ??= performance.now();
        text += frame.text;
      } else if (frame.type === "done") {
        count = frame.usage.completion_tokens;
        const end = performance.now();
        conn.close();
        return { consumer: count / ((end - t0) / 1000), decode: (count - 1) / ((end - first!) / 1000), text };
      } else if (frame.type === "error") throw new Error(line);
    }
  }
}

async function inProcess(
  session: Awaited<ReturnType<ReturnType<typeof createLlamaCppBackend>["load"]>>,
  tokens: number,
) {
  const t0 = performance.now();
  let first: number | null = null;
  let text = "";
  const generation = session.generate(PROMPT, { maxTokens: tokens, temperature: 0 });
  for await (const chunk of generation) {
    first ??= performance.now();
    text += chunk;
  }
  const end = performance.now();
  const count = (await generation.result).usage.generatedTokens;
  return { consumer: count / ((end - t0) / 1000), decode: (count - 1) / ((end - first!) / 1000), text };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      clients: { type: "string", default: "8" },
      seconds: { type: "string", default: "3" },
      tokens: { type: "string", default: "1000" },
      rounds: { type: "string", default: "5" },
    },
  });
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const tokens = Number(values.tokens);
  const rounds = Number(values.rounds);
  const dir = await Deno.makeTempDir({ prefix: "lode-bench-daemon-" });
  const store = `${dir}/store`;
  const socket = `${dir}/lode.sock`;
  const echoPath = `${dir}/echo.sock`;
  await lode(["import", MODEL, "--name", "stories260K"], store).output();
  const daemon = lode(
    [
      "serve",
      "--socket",
      socket,
      "--model",
      "stories260K",
      "--threads",
      "1",
      "--ctx-size",
      "2048",
      "--max-queue",
      "1024",
    ],
    store,
  ).spawn();
  const echo = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/bench_ndjson.ts`, "--serve-echo", echoPath],
    stdout: "null",
  }).spawn();
  try {
    await Promise.all([waitForSocket(socket), waitForSocket(echoPath)]);
    const row = (name: string, r: { rps: number; p50: number; p99: number }, limit?: number) =>
      `${name.padEnd(30)} ${String(r.rps).padStart(7)} req/s   p50 ${r.p50.toFixed(3)} ms   p99 ${
        r.p99.toFixed(3)
      } ms${limit ? `   (${(r.rps / limit * 100).toFixed(0)}% of echo)` : ""}`;
    const tokenize = (i: number) =>
      `{"id":"t${i}","op":"tokenize","model":"stories260K","text":"Once upon a time there was"}\n`;
    const echoR = await rate(echoPath, clients, seconds, '"op":"health"}');
    const health = await rate(socket, clients, seconds, '"type":"done"}');
    const tok = await rate(socket, clients, seconds, '"type":"done"}', tokenize);
    console.log(`${clients} clients, ${seconds} s each, one request in flight per client`);
    console.log(row("bare NDJSON echo", echoR));
    console.log(row("lode serve: health", health, echoR.rps));
    console.log(row("lode serve: tokenize", tok, echoR.rps));

    const backend = createLlamaCppBackend();
    const session = await backend.load(MODEL, { threads: 1, gpu: "off", contextSize: 2048 });
    const d: { consumer: number; decode: number }[] = [];
    const p: { consumer: number; decode: number }[] = [];
    await viaDaemon(socket, 32); // warm-up
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ["daemon", "local"] : ["local", "daemon"];
      for (const side of order) {
        if (side === "daemon") d.push(await viaDaemon(socket, tokens));
        else p.push(await inProcess(session, tokens));
      }
    }
    await backend.close();
    const show = (name: string, xs: { consumer: number; decode: number }[]) =>
      `${name.padEnd(30)} consumer ${
        median(xs.map((x) => x.consumer)).toFixed(0).padStart(6)
      } tok/s   decode ${median(xs.map((x) => x.decode)).toFixed(0).padStart(6)} tok/s`;
    console.log(`\nstories260K, ${tokens} tokens at temperature 0, threads 1, ${rounds} rounds (medians)`);
    console.log(show("in-process", p));
    console.log(show("through lode serve", d));
    const ratio = median(d.map((x) => x.consumer)) / median(p.map((x) => x.consumer));
    console.log(`daemon / in-process (consumer): ${(ratio * 100).toFixed(1)}%`);
  } finally {
    daemon.kill("SIGTERM");
    echo.kill();
    await Promise.all([daemon.status, echo.status]);
    await Deno.remove(dir, { recursive: true });
  }
}
