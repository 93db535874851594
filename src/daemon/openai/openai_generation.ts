/**
 * A `/v1/completions` or `/v1/chat/completions` request answered: the
 * generation run by the inference service, encoded as one JSON body, or
 * with `"stream": true` as server-sent events — one chunk per generated
 * text or piece of a tool call (`delta.tool_calls`), then the chunk with
 * `finish_reason`, the usage chunk when asked for, and `[DONE]`. A stream's headers are sent with its first text, so a
 * request refused or failing before that gets a real HTTP status; a failure
 * after it is a last `data: {"error":…}` event.
 *
 * @example
 * ```ts
 * import { answerGeneration, type GenerationAnswer } from "./openai_generation.ts";
 * declare const answer: GenerationAnswer; // the service, the translated request, how the front records it…
 * const response = await answerGeneration(answer);
 * ```
 * @module
 */
import type { GenerateResult, ToolCallDelta } from "../../inference/backend.ts";
import type { ActivityRecord } from "../server/activity_log.ts";
import { generationActivity } from "../server/activity_fields.ts";
import type { InferenceService, ServiceCall } from "../server/inference_service.ts";
import type { RequestOf } from "../wire/protocol.ts";
import { chatMessages, samplingOptions, toolOptions } from "../wire/protocol_backend.ts";
import { errorBody, errorResponse, json } from "./error_response.ts";
import {
  type Answer,
  chatBody,
  chunk,
  type ChunkKind,
  completionBody,
  toolCallsChunk,
  usageChunk,
} from "./openai_responses.ts";
import { openAiToolCallDelta, toolCallDeltas } from "./openai_tools.ts";
import type { Translated } from "./openai_translate.ts";
import { SSE_HEADERS, SseStream } from "./sse_stream.ts";

/**
 * What a run gives the front that records it: its answer, and the fields the activity log records of it.
 *
 * @example
 * ```ts
 * import type { Ran } from "./openai_generation.ts";
 * const ran: Ran<number> = { value: 3, activity: { count: 3 } };
 * ```
 */
export interface Ran<T> {
  value: T;
  activity: Partial<ActivityRecord>;
}

/**
 * What {@link answerGeneration} needs.
 *
 * @example
 * ```ts
 * import type { GenerationAnswer } from "./openai_generation.ts";
 * const streaming = (a: GenerationAnswer) => a.translated.stream;
 * ```
 */
export interface GenerationAnswer extends AnswerContext {
  kind: ChunkKind;
  translated: Translated<RequestOf<"generate" | "chat">>;
  /** The response's id, `created` and model (`text` empty). */
  head: Answer;
}

/**
 * What every generating answer of the front is given (completions, chat, the Responses API): the service,
 * the call, how the front records the request, and a stream's pacing and end.
 *
 * @example
 * ```ts
 * import type { AnswerContext } from "./openai_generation.ts";
 * const pacing = (a: AnswerContext) => a.maxPendingBytes;
 * ```
 */
export interface AnswerContext {
  service: InferenceService;
  call: ServiceCall;
  /** Runs the request's body as the front records requests (the activity log). */
  run: <T>(body: () => Promise<Ran<T>>) => Promise<T>;
  /** Bytes queued to a streaming client before the generation waits for it to read. */
  maxPendingBytes: number;
  /** The client stopped reading the stream. */
  onCancel: () => void;
  /** The request is over: its JSON answered, or its stream closed (after the response, for a stream). */
  onEnd: () => void;
}

/**
 * The response to a completion or chat request (its status is an error's when the request is refused
 * before anything was generated).
 *
 * @example
 * ```ts
 * import type { GenerationAnswer } from "./openai_generation.ts";
 * declare const answer: GenerationAnswer;
 * const response = await answerGeneration(answer);
 * ```
 */
export function answerGeneration(a: GenerationAnswer): Promise<Response> {
  const { kind, head, translated: t } = a;
  const input = t.request.op === "generate"
    ? { model: t.request.model, prompt: t.request.prompt }
    : { model: t.request.model, messages: chatMessages(t.request.messages) };
  const options = t.request.op === "chat"
    ? { ...samplingOptions(t.request), ...toolOptions(t.request) }
    : samplingOptions(t.request);
  /**
   * Runs the generation, giving each batch of its text to `onTexts` (then waiting for `ready`) and each
   * piece of a tool call to `onToolCall`.
   */
  const generate = (
    onTexts?: (texts: string[]) => void,
    ready?: () => Promise<void>,
    onToolCall?: (delta: ToolCallDelta) => void,
  ) =>
    a.run(async (): Promise<Ran<GenerateResult>> => {
      const withDeltas = onToolCall === undefined ? options : { ...options, onToolCallDelta: onToolCall };
      const generation = await a.service.generate(input, withDeltas, a.call);
      if (onTexts !== undefined) {
        for await (const texts of generation.batches()) {
          onTexts(texts);
          await ready?.();
        }
      }
      const result = await generation.result;
      return { value: result, activity: generationActivity(generation, result, input) };
    });
  if (!t.stream) {
    return generate().then((r) => {
      const answer = {
        ...head,
        text: r.text,
        stopReason: r.stopReason,
        usage: r.usage,
        toolCalls: r.toolCalls,
      };
      return json(200, kind === "chat" ? chatBody(answer) : completionBody(answer));
    }).finally(a.onEnd);
  }
  return new Promise<Response>((resolve) => {
    const sse = new SseStream({ highWaterMark: a.maxPendingBytes, onCancel: a.onCancel });
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      if (kind === "chat") sse.send(chunk(kind, head, { first: true }));
      resolve(new Response(sse.body, { headers: SSE_HEADERS }));
    };
    const send = (texts: string[]) => {
      start();
      for (const text of texts) sse.send(chunk(kind, { ...head, text }));
    };
    const streamed = new Set<number>(); // the calls whose pieces went out as they were generated
    const sendToolCall = (delta: ToolCallDelta) => {
      start();
      streamed.add(delta.index);
      sse.send(toolCallsChunk(head, [openAiToolCallDelta(delta)]));
    };
    generate(send, () => sse.ready(), kind === "chat" ? sendToolCall : undefined).then(
      (r) => {
        start();
        const last = { ...head, stopReason: r.stopReason, usage: r.usage };
        const unsent = toolCallDeltas(r.toolCalls ?? []).filter((d) => !streamed.has(d.index as number));
        if (kind === "chat" && unsent.length > 0) sse.send(toolCallsChunk(head, unsent));
        sse.send(chunk(kind, last, { finish: true }));
        if (t.includeUsage) sse.send(usageChunk(kind, last));
        sse.send("[DONE]");
        sse.close();
      },
      (e) => {
        if (!started) return resolve(errorResponse(e));
        sse.send(errorBody(e).body);
        sse.close();
      },
    ).finally(a.onEnd);
  });
}
