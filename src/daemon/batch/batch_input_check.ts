/**
 * The check of a batch's input file when the batch is created (`POST /v1/batches`): the whole file as
 * `lode batch` checks it (../batch/batch_input.ts: JSON lines, unique `custom_id`s, `method` POST, a
 * body its endpoint takes, one model for every line, not empty, not over the limits), and every line's
 * `url` the batch's `endpoint`. Problems come back in OpenAI's `errors.data` shape, each with its
 * line, the field (`param`) and lode's stable code `BATCH_INVALID`; a file with none gives its model and
 * how many requests it holds.
 *
 * @example
 * ```ts
 * import { checkBatchInput } from "./batch_input_check.ts";
 * const line = '{"custom_id":"a","method":"POST","url":"/v1/completions","body":{"model":"m","prompt":"Hi"}}';
 * checkBatchInput(line + "\n", { file: "in.jsonl", endpoint: "/v1/completions" }); // { ok: true, model: "m", total: 1 }
 * ```
 * @module
 */
import { isLodeError } from "../../errors.ts";
import { type BatchProblem, checkBatchSize, MAX_LISTED_PROBLEMS, parseBatchInput } from "./batch_input.ts";
import type { BatchError } from "./batch_store.ts";

/** What the check found. */
export type InputCheck =
  | { ok: true; model: string; total: number }
  | { ok: false; errors: BatchError[]; total: number };

/** Checks `text`, the input file `file` of a batch on `endpoint` (see the module doc). */
export function checkBatchInput(text: string, o: { file: string; endpoint: string }): InputCheck {
  try {
    checkBatchSize(o.file, new TextEncoder().encode(text).length);
    const input = parseBatchInput(text, { file: o.file });
    const problems: BatchProblem[] = input.requests.filter((r) => r.url !== o.endpoint).map((r) => ({
      line: r.line,
      custom_id: r.customId,
      field: "url",
      message: `the url ${r.url} is not the batch's endpoint ${o.endpoint}: every line must use it`,
    }));
    if (problems.length > 0) return { ok: false, errors: asErrors(problems), total: input.requests.length };
    return { ok: true, model: input.model, total: input.requests.length };
  } catch (e) {
    if (!isLodeError(e, "BATCH_INVALID")) throw e;
    const problems = (e.details.problems ?? []) as BatchProblem[];
    const total = typeof e.details.requests === "number" ? e.details.requests : 0;
    return {
      ok: false,
      errors: asErrors(problems.length > 0 ? problems : [{ line: null, message: e.message }]),
      total,
    };
  }
}

function asErrors(problems: BatchProblem[]): BatchError[] {
  return problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => ({
    code: "BATCH_INVALID",
    message: p.message,
    param: p.field ?? null,
    line: p.line,
  }));
}
