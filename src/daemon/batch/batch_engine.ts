/**
 * Runs a batch's requests on one model, up to `parallel` at once (on a session loaded with as many
 * sequences, llama.cpp decodes them together), and hands each result over as it finishes, in completion
 * order: a success as OpenAI's response body for its endpoint (openai_responses.ts) with status 200, a
 * request the model refuses (a prompt over the context, a schema it cannot follow, `dimensions` it does not
 * give) as that request's error with the status the HTTP endpoint would answer. An error of the batch rather
 * than of a request (the disk or memory ran out, the model's process died, the daemon is draining), `onResult`
 * failing or the signal stops the batch: requests still running are then aborted and their partial
 * answers dropped, so each request is answered whole or not at all.
 *
 * @example
 * ```ts
 * import type { Session } from "../../inference/backend.ts";
 * import { parseBatchInput } from "./batch_input.ts";
 * import { runBatchRequests } from "./batch_engine.ts";
 * declare const session: Session;
 * const input = parseBatchInput('{"custom_id":"a","method":"POST","url":"/v1/completions","body":{"prompt":"Once"}}', { file: "in.jsonl", model: "m" });
 * await runBatchRequests(input.requests, {
 *   target: session,
 *   model: "m",
 *   parallel: 4,
 *   signal: new AbortController().signal,
 *   onResult: async (r) => console.log(r.line.custom_id, r.failed),
 * });
 * ```
 * @module
 */
import type { ErrorCode, LodeError } from "../../errors.ts";
import { toLodeError } from "../../errors.ts";
import type { ChatMessage, GenerateOptions, GenerateResult, Session } from "../../inference/backend.ts";
import { chatMessages, samplingOptions, toolOptions } from "../wire/protocol_backend.ts";
import { chatBody, completionBody, embeddingsBody, errorBody } from "../openai/openai_responses.ts";
import { badRequest } from "../openai/openai_translate.ts";
import { summed } from "../openai/completions_batch.ts";
import type { BatchResultLine } from "./batch_files.ts";
import type { BatchRequest } from "./batch_input.ts";

/** What a batch runs on: a {@link Session}, or anything that answers as one (the daemon's service). */
export interface BatchTarget {
  generate(prompt: string, options: GenerateOptions): { readonly result: Promise<GenerateResult> };
  chat(messages: ChatMessage[], options: GenerateOptions): { readonly result: Promise<GenerateResult> };
  embed: Session["embed"];
  tokenize: Session["tokenize"];
}

/** One finished request. */
export interface BatchResult {
  request: BatchRequest;
  line: BatchResultLine;
  /** True when it goes to the error file. */
  failed: boolean;
  /** Tokens generated (0 for embeddings and failures). */
  generatedTokens: number;
  promptTokens: number;
}

/** Options of {@link runBatchRequests}. */
export interface BatchEngineOptions {
  target: BatchTarget;
  /** The model name the bodies carry. */
  model: string;
  /** Requests run at once (≥ 1). */
  parallel: number;
  signal: AbortSignal;
  /** Receives each result as it finishes; a rejection stops the batch with that error. */
  onResult: (result: BatchResult) => Promise<void>;
  /** Wall clock in milliseconds, for `created`. Default `Date.now`. */
  clock?: () => number;
}

/** Runs `requests`; resolves when all are answered, rejects with what stopped the batch. */
export async function runBatchRequests(
  requests: readonly BatchRequest[],
  options: BatchEngineOptions,
): Promise<void> {
  const stop = new AbortController();
  const signal = AbortSignal.any([options.signal, stop.signal]);
  let next = 0;
  let failure: unknown = undefined;
  const worker = async () => {
    while (!signal.aborted) {
      const request = requests[next++];
      if (request === undefined) return;
      try {
        const result = await answer(request, options, signal);
        if (signal.aborted) return; // an aborted answer is partial: dropped
        await options.onResult(result);
      } catch (e) {
        if (!options.signal.aborted) failure ??= e; // a cancel is no failure
        stop.abort(e);
        return;
      }
    }
  };
  const workers = Math.max(1, Math.min(options.parallel, requests.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure !== undefined) throw toLodeError(failure);
  options.signal.throwIfAborted();
}

async function answer(
  request: BatchRequest,
  o: BatchEngineOptions,
  signal: AbortSignal,
): Promise<BatchResult> {
  const requestId = randomId("req_");
  const base = { id: randomId("batch_req_"), custom_id: request.customId };
  try {
    const { body, usage } = await respond(request, o, signal);
    return {
      request,
      line: { ...base, response: { status_code: 200, request_id: requestId, body }, error: null },
      failed: false,
      generatedTokens: usage.generated,
      promptTokens: usage.prompt,
    };
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    const error = toLodeError(e);
    if (!isRequestError(error)) throw error;
    const { status, body } = errorBody(error);
    return {
      request,
      line: {
        ...base,
        response: { status_code: status, request_id: requestId, body },
        error: { code: String(body.error.code), message: error.message },
      },
      failed: true,
      generatedTokens: 0,
      promptTokens: 0,
    };
  }
}

/**
 * Errors of the batch, not of one request: it was stopped, the disk or memory ran out, the model could not
 * be loaded or its process died, the daemon is full or shutting down. The batch stops; run again, it goes on.
 */
const BATCH_ERRORS: readonly ErrorCode[] = [
  "INTERRUPTED",
  "CANCELLED",
  "INSUFFICIENT_SPACE",
  "INSUFFICIENT_MEMORY",
  "IO",
  "MODEL_NOT_FOUND",
  "MODEL_LOAD_FAILED",
  "RUNNER_CRASHED",
  "QUEUE_FULL",
  "DRAINING",
];

/** Errors that are one request's: the model or the session could not answer it (a prompt too long…). */
function isRequestError(e: LodeError): boolean {
  return !BATCH_ERRORS.includes(e.code);
}

async function respond(
  request: BatchRequest,
  o: BatchEngineOptions,
  signal: AbortSignal,
): Promise<{ body: Record<string, unknown>; usage: { prompt: number; generated: number } }> {
  const created = Math.floor((o.clock ?? Date.now)() / 1000);
  const call = request.call;
  if (call.kind === "chat") {
    const r = call.request;
    const options = { ...samplingOptions(r), ...toolOptions(r), signal };
    const result = await finished(o.target.chat(chatMessages(r.messages), options).result, signal);
    const head = { id: randomId("chatcmpl-"), created, model: o.model };
    return {
      body: chatBody({ ...head, ...answerOf(result) }),
      usage: { prompt: result.usage.promptTokens, generated: result.usage.generatedTokens },
    };
  }
  if (call.kind === "completion") {
    const options = { ...samplingOptions(call.request), signal };
    const results: GenerateResult[] = [];
    for (const prompt of call.prompts) {
      results.push(await finished(o.target.generate(prompt, options).result, signal));
    }
    const head = { id: randomId("cmpl-"), created, model: o.model };
    const usage = summed(results.map((r) => r.usage));
    const body = completionBody({ ...head, text: results[0]?.text ?? "", usage });
    body.choices = results.map((r, index) => ({
      ...(completionBody({ ...head, text: r.text, stopReason: r.stopReason }).choices as object[])[0],
      index,
    }));
    return { body, usage: { prompt: usage.promptTokens, generated: usage.generatedTokens } };
  }
  const inputs = typeof call.request.input === "string" ? [call.request.input] : call.request.input;
  const vectors = await o.target.embed(inputs, { normalize: call.request.normalize, signal });
  const size = vectors[0]?.length ?? 0;
  if (call.dimensions !== undefined && call.dimensions !== size) {
    throw badRequest("dimensions", `${o.model} gives ${size}-dimensional embeddings, not ${call.dimensions}`);
  }
  const counts = await Promise.all(inputs.map(async (text) => (await o.target.tokenize(text)).length));
  const promptTokens = counts.reduce((a, b) => a + b, 0);
  return {
    body: embeddingsBody({ model: o.model, embeddings: vectors, promptTokens, base64: call.base64 }),
    usage: { prompt: promptTokens, generated: 0 },
  };
}

/** A generation's result; one stopped by the batch's signal is not an answer. */
async function finished(result: Promise<GenerateResult>, signal: AbortSignal): Promise<GenerateResult> {
  const r = await result;
  if (signal.aborted) throw signal.reason;
  return r;
}

function answerOf(r: GenerateResult) {
  return {
    text: r.text,
    stopReason: r.stopReason,
    usage: r.usage,
    ...(r.toolCalls === undefined ? {} : { toolCalls: r.toolCalls }),
  };
}

function randomId(prefix: string): string {
  return prefix + crypto.randomUUID().replaceAll("-", "").slice(0, 24);
}
