/**
 * A `/v1/completions` request with a list of prompts (`"prompt": ["a", "b"]`,
 * up to 20, as LangChain batches them): the prompts run one after another
 * with the same sampling, and the answer holds one `choices` entry per
 * prompt, its `index` the prompt's, `usage` summed over them. With
 * `"stream": true` each chunk's choice carries the index of its prompt, each
 * prompt ends with its own `finish_reason` chunk, then the usage chunk when
 * asked for, and `[DONE]`. Each prompt is recorded in the activity log.
 *
 * @example
 * ```ts
 * import { answerCompletionBatch } from "./completions_batch.ts";
 * import type { GenerationAnswer } from "./openai_generation.ts";
 * declare const answer: GenerationAnswer; // translated.prompts holds the prompts
 * const response = await answerCompletionBatch(answer);
 * ```
 * @module
 */
import type { GenerateResult, Usage } from "../../inference/backend.ts";
import { generationActivity } from "../server/activity_fields.ts";
import { samplingOptions } from "../wire/protocol_backend.ts";
import type { GenerationAnswer, Ran } from "./openai_generation.ts";
import { errorBody, errorResponse, json } from "./error_response.ts";
import { chunk, completionBody, usageChunk } from "./openai_responses.ts";
import { SSE_HEADERS, SseStream } from "./sse_stream.ts";

/**
 * The response to a completions request with several prompts (`a.translated.prompts`).
 *
 * @example
 * ```ts
 * import type { GenerationAnswer } from "./openai_generation.ts";
 * declare const answer: GenerationAnswer;
 * const response = await answerCompletionBatch(answer);
 * ```
 */
export function answerCompletionBatch(a: GenerationAnswer): Promise<Response> {
  const { head, translated: t } = a;
  const prompts = t.prompts ?? [];
  const request = t.request;
  const model = request.model;
  const generate = (prompt: string, onTexts?: (texts: string[]) => void, ready?: () => Promise<void>) =>
    a.run(async (): Promise<Ran<GenerateResult>> => {
      const generation = await a.service.generate({ model, prompt }, samplingOptions(request), a.call);
      if (onTexts !== undefined) {
        for await (const texts of generation.batches()) {
          onTexts(texts);
          await ready?.();
        }
      }
      const result = await generation.result;
      return { value: result, activity: generationActivity(generation, result, { prompt }) };
    });
  if (!t.stream) {
    return (async () => {
      const results: GenerateResult[] = [];
      for (const prompt of prompts) results.push(await generate(prompt));
      const body = completionBody({ ...head, usage: summed(results.map((r) => r.usage)) });
      body.choices = results.map((r, index) => ({
        ...(completionBody({ ...head, text: r.text, stopReason: r.stopReason }).choices as object[])[0],
        index,
      }));
      return json(200, body);
    })().finally(a.onEnd);
  }
  return new Promise<Response>((resolve) => {
    const sse = new SseStream({ highWaterMark: a.maxPendingBytes, onCancel: a.onCancel });
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      resolve(new Response(sse.body, { headers: SSE_HEADERS }));
    };
    const indexed = (c: Record<string, unknown>, index: number) => ({
      ...c,
      choices: (c.choices as object[]).map((choice) => ({ ...choice, index })),
    });
    (async () => {
      const usages: Usage[] = [];
      for (const [index, prompt] of prompts.entries()) {
        const r = await generate(prompt, (texts) => {
          start();
          for (const text of texts) sse.send(indexed(chunk("completion", { ...head, text }), index));
        }, () => sse.ready());
        start();
        sse.send(
          indexed(chunk("completion", { ...head, stopReason: r.stopReason }, { finish: true }), index),
        );
        usages.push(r.usage);
      }
      if (t.includeUsage) sse.send(usageChunk("completion", { ...head, usage: summed(usages) }));
      sse.send("[DONE]");
      sse.close();
    })().catch((e) => {
      if (!started) return resolve(errorResponse(e));
      sse.send(errorBody(e).body);
      sse.close();
    }).finally(a.onEnd);
  });
}

/** The usage of a completion with several prompts: the tokens and times summed, the rest the first's. */
export function summed(usages: Usage[]): Usage {
  const total = (key: "promptTokens" | "generatedTokens") => usages.reduce((n, u) => n + u[key], 0);
  const first = usages[0];
  return {
    promptTokens: total("promptTokens"),
    generatedTokens: total("generatedTokens"),
    loadMs: first?.loadMs ?? 0,
    timeToFirstTokenMs: first?.timeToFirstTokenMs ?? 0,
    totalMs: usages.reduce((n, u) => n + u.totalMs, 0),
    tokensPerSecond: first?.tokensPerSecond ?? 0,
  };
}
