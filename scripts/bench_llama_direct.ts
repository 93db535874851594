/**
 * The reference side of `deno task bench-inference`: loads a model with node-llama-cpp directly (no lode
 * code at all) and generates greedily, measuring exactly what `lode run` reports in its `done` event:
 * time to first token from the start of the generate call (model load excluded) and decode speed as
 * tokens after the first over the time since the first. Same runtime options as lode's backend
 * (`gpu: "auto"`, prebuilt binary, `gpuLayers: "auto"`, a context of `--ctx-size` with `--threads`,
 * `LlamaCompletion` without context shift).
 *
 * ```sh
 * deno run -A scripts/bench_llama_direct.ts --model M.gguf --prompt 'Once upon a time' \
 *   [--max-tokens 128] [--threads 1] [--ctx-size 2048] [--seed 1]
 * ```
 * Prints one JSON line: {@link DirectResult}.
 * @module
 */
import { parseArgs } from "node:util";

/**
 * One measured generation. Times in milliseconds.
 *
 * @example
 * ```ts
 * const ttft = (r: DirectResult) => r.timeToFirstTokenMs;
 * ```
 */
export interface DirectResult {
  loadMs: number;
  promptTokens: number;
  generatedTokens: number;
  timeToFirstTokenMs: number | null;
  totalMs: number;
  tokensPerSecond: number;
  text: string;
}

/**
 * Settings shared by both sides of the benchmark.
 *
 * @example
 * ```ts
 * const o: DirectOptions = { model: "m.gguf", prompt: "Hi", maxTokens: 128, threads: 1, contextSize: 2048, seed: 1 };
 * ```
 */
export interface DirectOptions {
  model: string;
  prompt: string;
  maxTokens: number;
  threads: number;
  contextSize: number;
  seed: number;
}

/**
 * Loads, generates once, disposes; returns the measurements.
 *
 * @example
 * ```ts
 * const r = await generateDirect({ model: "m.gguf", prompt: "Hi", maxTokens: 8, threads: 1, contextSize: 512, seed: 1 });
 * console.log(r.tokensPerSecond);
 * ```
 */
export async function generateDirect(options: DirectOptions): Promise<DirectResult> {
  const started = performance.now();
  const lib = await import("node-llama-cpp");
  const llama = await lib.getLlama({
    gpu: "auto",
    build: "never",
    progressLogs: false,
    logLevel: lib.LlamaLogLevel.error,
  });
  const model = await llama.loadModel({ modelPath: options.model, gpuLayers: "auto" });
  const context = await model.createContext({ contextSize: options.contextSize, threads: options.threads });
  const completion = new lib.LlamaCompletion({ contextSequence: context.getSequence() });
  const loadMs = performance.now() - started;

  const bos = model.tokens.shouldPrependBosToken;
  const promptTokens = model.tokenize(options.prompt, false, bos ? "trimLeadingSpace" : undefined).length +
    (bos ? 1 : 0);
  let first: number | null = null;
  let generated = 0;
  let text = "";
  const start = performance.now();
  await completion.generateCompletionWithMeta(options.prompt, {
    maxTokens: options.maxTokens,
    temperature: 0,
    seed: options.seed,
    disableContextShift: true,
    onToken: (tokens) => {
      first ??= performance.now();
      generated += tokens.length;
    },
    onTextChunk: (chunk) => {
      text += chunk;
    },
  });
  const end = performance.now();
  const firstAt: number | null = first;
  const tokensPerSecond = firstAt !== null && generated >= 2 && end > firstAt
    ? (generated - 1) / ((end - firstAt) / 1000)
    : generated / ((end - start) / 1000);
  completion.dispose({ disposeSequence: true });
  await context.dispose();
  await model.dispose();
  await llama.dispose();
  return {
    loadMs,
    promptTokens,
    generatedTokens: generated,
    timeToFirstTokenMs: firstAt === null ? null : firstAt - start,
    totalMs: end - start,
    tokensPerSecond,
    text,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string" },
      prompt: { type: "string" },
      "max-tokens": { type: "string", default: "128" },
      threads: { type: "string", default: "1" },
      "ctx-size": { type: "string", default: "2048" },
      seed: { type: "string", default: "1" },
    },
  });
  if (values.model === undefined || values.prompt === undefined) {
    console.error("usage: bench_llama_direct.ts --model FILE --prompt TEXT [--max-tokens N] [--threads N] …");
    Deno.exit(2);
  }
  const result = await generateDirect({
    model: values.model,
    prompt: values.prompt,
    maxTokens: Number(values["max-tokens"]),
    threads: Number(values.threads),
    contextSize: Number(values["ctx-size"]),
    seed: Number(values.seed),
  });
  console.log(JSON.stringify(result));
}
