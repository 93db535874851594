/**
 * The daemon's own CPU per request, without sockets: where a `tokenize` (or
 * `health`) request's microseconds go once the kernel's share is taken away.
 * Lines are fed to the real `InferenceServer` (or to parts of its path) over
 * an in-memory connection whose reads return at once and whose writes are
 * taken at once, with stories260K's real vocabulary; µs per request over
 * `--requests` requests, each variant in a fresh process.
 *
 * Variants, each a part of the one before:
 * - `server`: `InferenceServer` with a router that answers from the vocabulary
 *   (framing, decoding, dispatch, tokenizing, answer);
 * - `bare`: `NdjsonConnection` + `decodeRequest` + tokenize + `frameLines`;
 * - `decode`: as `bare`, the tokens a fixed array (no tokenizer);
 * - `tokenize`: the tokenizer and framing, no decoding;
 * - `framing`: the connection alone, a fixed answer per line.
 *
 * This is a profiling aid for the socket benchmark (scripts/bench_daemon.ts),
 * not a substitute: the sockets and the wake-ups they cause are left out.
 *
 * Usage: deno run -A scripts/bench_framing.ts [--requests 400000] [--runs 3] [--op tokenize|health]
 *
 * @example
 * ```sh
 * deno run -A scripts/bench_framing.ts --runs 5
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { AdmissionQueue } from "../src/daemon/server/admission_queue.ts";
import { InferenceServer } from "../src/daemon/server/inference_server.ts";
import { NdjsonConnection } from "../src/daemon/wire/ndjson_connection.ts";
import { frameLines } from "../src/daemon/wire/frame_lines.ts";
import { decodeRequest } from "../src/daemon/wire/decode_request.ts";
import type { Router } from "../src/daemon/router/router.ts";
import type { Vocabulary } from "../src/inference/backend.ts";
import { createLlamaCppBackend } from "../src/inference/llama_cpp_backend.ts";
import { median } from "./bench_report.ts";

const MODEL = fileURLToPath(new URL("../tests/fixtures/stories260K.gguf", import.meta.url));
const TEXT = "Once upon a time there was";
/** The variants, each a part of the one before. */
export const VARIANTS = ["server", "bare", "decode", "tokenize", "framing"] as const;
/** One of {@link VARIANTS}. */
export type Variant = typeof VARIANTS[number];

/**
 * An in-memory `Deno.Conn`: each read returns the next of `requests` lines (then never returns); writes
 * are taken whole, and `answered` resolves once `lines` answer lines (counted by `\n`) were written.
 */
function memoryConn(line: (i: number) => string, requests: number, lines: number) {
  const encoder = new TextEncoder();
  const answered = Promise.withResolvers<void>();
  let read = 0;
  let written = 0;
  const conn = {
    read(buffer: Uint8Array): Promise<number | null> {
      if (read >= requests) return new Promise(() => {});
      return Promise.resolve(encoder.encodeInto(line(read++), buffer).written);
    },
    write(bytes: Uint8Array): Promise<number> {
      for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) written++;
      if (written === lines) answered.resolve();
      return Promise.resolve(bytes.length);
    },
    close() {},
  };
  return { conn: conn as unknown as Deno.Conn, answered: answered.promise };
}

/** Answers each line of `conn` with `answer` (the parts of the server's path a variant keeps). */
async function serveLines(conn: Deno.Conn, answer: (bytes: Uint8Array) => string): Promise<void> {
  const ndjson = new NdjsonConnection(conn);
  for await (const item of ndjson.lines()) if (item.type === "line") ndjson.enqueue(answer(item.bytes));
}

function start(variant: Variant, conn: Deno.Conn, vocabulary: Vocabulary): void {
  const tokensAnswer = (id: string, tokens: number[]) =>
    frameLines([{ id, type: "tokens", tokens }, { id, type: "done" }]);
  const decoded = (bytes: Uint8Array) => {
    const d = decodeRequest(bytes);
    if (!d.ok || d.request.op !== "tokenize") throw new Error("the variant expects tokenize requests");
    return d.request;
  };
  const fixed = vocabulary.tokenize(TEXT);
  switch (variant) {
    case "server": {
      const router = { vocabulary: (m: string) => m === "stories260K" ? vocabulary : undefined };
      const queue = new AdmissionQueue({ maxQueue: 64, parallel: 1 });
      new InferenceServer({ router: router as unknown as Router, queue }).attach(conn);
      return;
    }
    case "bare":
      void serveLines(conn, (bytes) => {
        const r = decoded(bytes);
        return tokensAnswer(r.id, vocabulary.tokenize(r.text));
      });
      return;
    case "decode":
      void serveLines(conn, (bytes) => tokensAnswer(decoded(bytes).id, fixed.slice()));
      return;
    case "tokenize":
      void serveLines(conn, () => tokensAnswer("t", vocabulary.tokenize(TEXT)));
      return;
    case "framing":
      void serveLines(conn, () => '{"id":"t","type":"done"}\n{"id":"t","type":"done"}\n');
  }
}

/**
 * One variant in this process: µs per request.
 *
 * @example
 * ```ts
 * const us = await runVariant("server", "tokenize", 100_000);
 * ```
 */
export async function runVariant(
  variant: Variant,
  op: "tokenize" | "health",
  requests: number,
): Promise<number> {
  const backend = createLlamaCppBackend();
  const vocabulary = await backend.loadVocabulary!(MODEL);
  const line = op === "tokenize"
    ? (i: number) => `{"id":"t${i}","op":"tokenize","model":"stories260K","text":"${TEXT}"}\n`
    : (i: number) => `{"id":"r${i}","op":"health"}\n`;
  const { conn, answered } = memoryConn(line, requests, 2 * requests); // every answer is two lines
  try {
    const started = performance.now();
    start(variant, conn, vocabulary);
    await answered;
    return (performance.now() - started) * 1000 / requests;
  } finally {
    await backend.close();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      requests: { type: "string", default: "400000" },
      runs: { type: "string", default: "3" },
      op: { type: "string", default: "tokenize" },
      variant: { type: "string" }, // internal: run one variant in this process
    },
  });
  const op = values.op === "health" ? "health" : "tokenize";
  const requests = Number(values.requests);
  if (values.variant !== undefined) {
    console.log(await runVariant(values.variant as Variant, op, requests));
    Deno.exit(0); // the vocabulary's native handles would keep the process alive
  }
  const variants = op === "health" ? (["server"] as const) : VARIANTS;
  console.log(`${op}: µs per request without sockets, ${requests} requests, median of ${values.runs} runs`);
  for (const variant of variants) {
    const us: number[] = [];
    for (let r = 0; r < Number(values.runs); r++) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          import.meta.filename!,
          "--variant",
          variant,
          "--op",
          op,
          "--requests",
          String(requests),
        ],
        stderr: "inherit",
      }).output();
      us.push(Number(new TextDecoder().decode(out.stdout)));
    }
    console.log(
      `${variant.padEnd(9)} ${median(us).toFixed(2).padStart(6)} µs   (runs ${
        us.map((u) => u.toFixed(2)).join(" ")
      })`,
    );
  }
}
