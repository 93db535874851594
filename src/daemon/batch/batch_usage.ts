/**
 * A batch's token usage as OpenAI's Batch object carries it (`usage`): the input, cached, output, reasoning
 * and total tokens summed over the requests answered with success. Each is read from the `usage` of an
 * answer's body as the output file holds it (`prompt_tokens`, `completion_tokens`, their details), so the
 * answers of an earlier run (a resumed batch) count as they were written.
 *
 * @example
 * ```ts
 * import { addUsage, noUsage, usageOfLine } from "./batch_usage.ts";
 * const line = { response: { status_code: 200, body: { usage: { prompt_tokens: 5, completion_tokens: 8, total_tokens: 13 } } } };
 * const total = addUsage(noUsage(), usageOfLine(line));
 * total.output_tokens; // 8
 * ```
 * @module
 */
import { JobUsage } from "../../events/job_event.ts";

/** OpenAI's `usage` of a batch (the `BatchUsage` of its Batch object); a batch job's progress carries it. */
export const BatchUsage = JobUsage;
export type BatchUsage = JobUsage;

/** No tokens. */
export function noUsage(): BatchUsage {
  return {
    input_tokens: 0,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 0,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0,
  };
}

/** `a` and `b` summed (`b` null: `a`). */
export function addUsage(a: BatchUsage, b: BatchUsage | null): BatchUsage {
  if (b === null) return a;
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    input_tokens_details: {
      cached_tokens: a.input_tokens_details.cached_tokens + b.input_tokens_details.cached_tokens,
    },
    output_tokens: a.output_tokens + b.output_tokens,
    output_tokens_details: {
      reasoning_tokens: a.output_tokens_details.reasoning_tokens + b.output_tokens_details.reasoning_tokens,
    },
    total_tokens: a.total_tokens + b.total_tokens,
  };
}

/**
 * The usage of one result line (`{custom_id, response: {status_code, body: {usage}}}`); null for a failed
 * request (a status other than 200) or a body without `usage`.
 */
export function usageOfLine(line: unknown): BatchUsage | null {
  const response = (line as { response?: { status_code?: unknown; body?: unknown } } | null)?.response;
  if (response?.status_code !== 200) return null;
  const usage = (response.body as { usage?: unknown } | null)?.usage as Record<string, unknown> | undefined;
  if (usage === null || typeof usage !== "object") return null;
  const input = count(usage.prompt_tokens);
  const output = count(usage.completion_tokens);
  const total = usage.total_tokens === undefined ? input + output : count(usage.total_tokens);
  return {
    input_tokens: input,
    input_tokens_details: {
      cached_tokens: count(
        (usage.prompt_tokens_details as { cached_tokens?: unknown } | undefined)?.cached_tokens,
      ),
    },
    output_tokens: output,
    output_tokens_details: {
      reasoning_tokens: count(
        (usage.completion_tokens_details as { reasoning_tokens?: unknown } | undefined)?.reasoning_tokens,
      ),
    },
    total_tokens: total,
  };
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : 0;
}
