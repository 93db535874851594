/**
 * `POST /v1/responses` answered (OpenAI's Responses API; the request is
 * translated by responses_request.ts): one `response` object
 * (`object: "response"`, one `message` output item holding one
 * `output_text` part, `usage` in input/output/total tokens), or with
 * `"stream": true` the event sequence OpenAI sends — `response.created`,
 * `response.in_progress`, `response.output_item.added`,
 * `response.content_part.added`, `response.output_text.delta`…,
 * `response.output_text.done`, `response.content_part.done`,
 * `response.output_item.done`, then `response.completed` (or
 * `response.incomplete` when `max_output_tokens` or the context ended it),
 * each as `event: TYPE` + `data: {…, "sequence_number": n}`. A stream's
 * headers are sent once the model has been admitted and started, so a
 * request refused before that gets a real HTTP status; a failure after it is
 * an `error` event then `response.failed`. Tool calls the generation made
 * (`ResponsesAnswer.toolCalls`) follow the message as `function_call` items
 * (streamed: `response.output_item.added`, one
 * `response.function_call_arguments.delta`, `…arguments.done`,
 * `response.output_item.done` each).
 *
 * @example
 * ```ts
 * import { answerResponses, type ResponsesAnswer } from "./responses_api.ts";
 * declare const answer: ResponsesAnswer; // the service, the translated request, how the front records it…
 * const response = await answerResponses(answer);
 * ```
 * @module
 */
import type { GenerateResult, StopReason, Usage } from "../../inference/backend.ts";
import { generationActivity } from "../server/activity_fields.ts";
import { samplingOptions } from "../wire/protocol_backend.ts";
import type { AnswerContext, Ran } from "./openai_generation.ts";
import { errorBody, errorResponse, json } from "./error_response.ts";
import type { TranslatedResponses } from "./responses_request.ts";
import { type FunctionCall, functionCallItem } from "./responses_tools.ts";
import { SSE_HEADERS, SseStream } from "./sse_stream.ts";

/**
 * What {@link answerResponses} needs.
 *
 * @example
 * ```ts
 * import type { ResponsesAnswer } from "./responses_api.ts";
 * const streaming = (a: ResponsesAnswer) => a.translated.chat.stream;
 * ```
 */
export interface ResponsesAnswer extends AnswerContext {
  translated: TranslatedResponses;
  /** The response's id (`resp_…`) and its creation time in Unix seconds. */
  id: string;
  createdAt: number;
  /** The tool calls in a generation's result (none when absent). */
  toolCalls?: (result: GenerateResult) => FunctionCall[];
}

/** A response object's state: the fields that change while it runs. */
interface State {
  status: "in_progress" | "completed" | "incomplete" | "failed";
  text?: string;
  stopReason?: StopReason;
  usage?: Usage;
  error?: { code: string; message: string };
  calls?: FunctionCall[];
}

/**
 * OpenAI's `response` object for `t` in `state` (`output` empty while in progress).
 *
 * @example
 * ```ts
 * import { responsesRequest } from "./responses_request.ts";
 * const t = responsesRequest({ model: "m", input: "Hi" }, "resp_1");
 * responseObject(t, { id: "resp_1", createdAt: 0 }, { status: "completed", text: "Hello" }).output;
 * ```
 */
export function responseObject(
  t: TranslatedResponses,
  head: { id: string; createdAt: number },
  state: State,
): Record<string, unknown> {
  const b = t.body;
  const incomplete = state.stopReason === "max_tokens" || state.stopReason === "context_full";
  const format = b.text?.format ?? { type: "text" };
  return {
    id: head.id,
    object: "response",
    created_at: head.createdAt,
    status: state.status,
    error: state.error ?? null,
    incomplete_details: state.status === "incomplete" && incomplete ? { reason: "max_output_tokens" } : null,
    instructions: b.instructions ?? null,
    max_output_tokens: b.max_output_tokens ?? null,
    model: b.model,
    output: state.text === undefined ? [] : outputItems(head.id, state.text, state.calls ?? []),
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: b.temperature ?? null,
    text: { format },
    tool_choice: b.tool_choice ?? "auto",
    tools: b.tools ?? [],
    top_p: b.top_p ?? null,
    truncation: "disabled",
    usage: state.usage === undefined ? null : responsesUsage(state.usage),
    user: null,
    metadata: b.metadata ?? {},
  };
}

/**
 * The Responses API's `usage`.
 *
 * @example
 * ```ts
 * const usage = { promptTokens: 5, generatedTokens: 40, loadMs: 0, timeToFirstTokenMs: 3, totalMs: 50, tokensPerSecond: 800 };
 * responsesUsage(usage).total_tokens; // 45
 * ```
 */
export function responsesUsage(usage: Usage): Record<string, unknown> {
  return {
    input_tokens: usage.promptTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: usage.generatedTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.promptTokens + usage.generatedTokens,
  };
}

function messageItem(responseId: string, text: string | undefined, status: string): Record<string, unknown> {
  return {
    id: messageId(responseId),
    type: "message",
    status,
    role: "assistant",
    content: text === undefined ? [] : [textPart(text)],
  };
}

/** The output items: the message (left out when the model only called tools), then the tool calls. */
function outputItems(responseId: string, text: string, calls: FunctionCall[]): Record<string, unknown>[] {
  const message = text === "" && calls.length > 0 ? [] : [messageItem(responseId, text, "completed")];
  return [...message, ...calls.map((call) => functionCallItem(call))];
}

function textPart(text: string): Record<string, unknown> {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}

function messageId(responseId: string): string {
  return `msg_${responseId.replace(/^resp_/, "")}`;
}

function finalStatus(stopReason: StopReason): "completed" | "incomplete" {
  return stopReason === "max_tokens" || stopReason === "context_full" ? "incomplete" : "completed";
}

/**
 * The response to a `/v1/responses` request (an error's status when refused before anything was generated).
 *
 * @example
 * ```ts
 * import type { ResponsesAnswer } from "./responses_api.ts";
 * declare const answer: ResponsesAnswer;
 * const response = await answerResponses(answer);
 * ```
 */
export function answerResponses(a: ResponsesAnswer): Promise<Response> {
  const t = a.translated;
  const request = t.chat.request;
  const input = { model: request.model, messages: request.messages };
  const head = { id: a.id, createdAt: a.createdAt };
  const generate = (onStart?: () => void, onTexts?: (texts: string[]) => void, ready?: () => Promise<void>) =>
    a.run(async (): Promise<Ran<GenerateResult>> => {
      const generation = await a.service.generate(input, samplingOptions(request), a.call);
      onStart?.();
      if (onTexts !== undefined) {
        for await (const texts of generation.batches()) {
          onTexts(texts);
          await ready?.();
        }
      }
      const result = await generation.result;
      return { value: result, activity: generationActivity(generation, result, input) };
    });
  const final = (r: GenerateResult): State => ({
    status: finalStatus(r.stopReason),
    text: r.text,
    stopReason: r.stopReason,
    usage: r.usage,
    calls: a.toolCalls?.(r) ?? [],
  });
  if (!t.chat.stream) {
    return generate().then((r) => json(200, responseObject(t, head, final(r)))).finally(a.onEnd);
  }
  return new Promise<Response>((resolve) => {
    const sse = new SseStream({ highWaterMark: a.maxPendingBytes, onCancel: a.onCancel });
    let sequence = 0;
    const send = (type: string, fields: Record<string, unknown>) =>
      sse.event(type, { type, sequence_number: sequence++, ...fields });
    const item = { output_index: 0, item_id: messageId(a.id), content_index: 0 };
    let started = false;
    let text = "";
    const start = () => {
      if (started) return;
      started = true;
      const inProgress = responseObject(t, head, { status: "in_progress" });
      send("response.created", { response: inProgress });
      send("response.in_progress", { response: inProgress });
      send("response.output_item.added", {
        output_index: 0,
        item: messageItem(a.id, undefined, "in_progress"),
      });
      send("response.content_part.added", { ...item, part: textPart("") });
      resolve(new Response(sse.body, { headers: SSE_HEADERS }));
    };
    const deltas = (texts: string[]) => {
      for (const delta of texts) {
        if (delta === "") continue;
        text += delta;
        send("response.output_text.delta", { ...item, delta, logprobs: [] });
      }
    };
    generate(start, deltas, () => sse.ready()).then(
      (r) => {
        start();
        send("response.output_text.done", { ...item, text: r.text, logprobs: [] });
        send("response.content_part.done", { ...item, part: textPart(r.text) });
        send("response.output_item.done", { output_index: 0, item: messageItem(a.id, r.text, "completed") });
        const state = final(r);
        const calls = state.calls ?? [];
        calls.forEach((call, i) => {
          const at = { output_index: i + 1, item_id: `fc_${call.id}` };
          const added = { ...functionCallItem(call, "in_progress"), arguments: "" };
          send("response.output_item.added", { output_index: i + 1, item: added });
          send("response.function_call_arguments.delta", { ...at, delta: call.arguments });
          send("response.function_call_arguments.done", { ...at, arguments: call.arguments });
          send("response.output_item.done", { output_index: i + 1, item: functionCallItem(call) });
        });
        // The stream announced its message item first: its final response keeps it, even empty.
        const response = responseObject(t, head, state);
        response.output = [
          messageItem(a.id, r.text, "completed"),
          ...calls.map((call) => functionCallItem(call)),
        ];
        send(`response.${state.status}`, { response });
        sse.close();
      },
      (e) => {
        if (!started) return resolve(errorResponse(e));
        const { error } = errorBody(e).body;
        const code = String(error.code);
        const message = String(error.message);
        send("error", { code, message, param: error.param ?? null });
        send("response.failed", {
          response: responseObject(t, head, { status: "failed", text, error: { code, message } }),
        });
        sse.close();
      },
    ).finally(a.onEnd);
  });
}
