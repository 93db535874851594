/**
 * How the inference service (inference_service.ts) words a failure, for
 * every front alike: the reason a request's signal was aborted with wins (a
 * cancel, a drain, the client leaving: the request failed because of it),
 * and errors about a request's input name its field.
 *
 * @example
 * ```ts
 * import { reported } from "./service_errors.ts";
 * const signal = new AbortController().signal;
 * const error = reported(new Error("boom"), [signal]); // LodeError INTERNAL, or the signal's reason
 * ```
 * @module
 */
import { isLodeError, LodeError, toLodeError } from "../../errors.ts";

/**
 * The error to report for `e`: the reason the first of `signals` that was aborted with a LodeError was
 * aborted with; else `e` as a LodeError, a `CONTEXT_LENGTH_EXCEEDED` naming `field` (the request's input:
 * `prompt`, `messages`, `input`) in `details.field`.
 *
 * @example
 * ```ts
 * import { LodeError } from "../../errors.ts";
 * import { reported } from "./service_errors.ts";
 * reported(new LodeError("CONTEXT_LENGTH_EXCEEDED", "too long"), [], "prompt").details.field; // "prompt"
 * ```
 */
export function reported(e: unknown, signals: (AbortSignal | undefined)[], field?: string): LodeError {
  for (const signal of signals) {
    if (signal?.aborted && signal.reason instanceof LodeError) return signal.reason;
  }
  const error = toLodeError(e);
  if (field === undefined || !isLodeError(error, "CONTEXT_LENGTH_EXCEEDED") || "field" in error.details) {
    return error;
  }
  return new LodeError(error.code, error.message, {
    details: { ...error.details, field },
    hint: error.hint,
    cause: error,
  });
}

/**
 * Iterates `source`, rethrowing its failure as `report` words it.
 *
 * @example
 * ```ts
 * import type { Generation } from "../../inference/backend.ts";
 * import { reported, reporting } from "./service_errors.ts";
 * declare const generation: Generation;
 * for await (const texts of reporting(generation.batches(), (e) => reported(e, []))) console.log(texts);
 * ```
 */
export async function* reporting<T>(
  source: AsyncIterable<T>,
  report: (e: unknown) => LodeError,
): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (e) {
    throw report(e);
  }
}

/**
 * A session's refusal of a token id (`USAGE`, with the item's `index` in its details: an id outside
 * the vocabulary, which the session checks before llama.cpp would abort the runner on it) as the
 * request's `BAD_REQUEST` naming the field, `tokens.<index>`; any other failure unchanged.
 *
 * @example
 * ```ts
 * import { LodeError } from "../../errors.ts";
 * import { badToken } from "./service_errors.ts";
 * badToken(new LodeError("USAGE", "no such id", { details: { index: 1 } })); // BAD_REQUEST, field tokens.1
 * ```
 */
export function badToken(e: unknown): unknown {
  if (!isLodeError(e, "USAGE")) return e;
  const index = e.details.index;
  const field = typeof index === "number" ? `tokens.${index}` : "tokens";
  return new LodeError("BAD_REQUEST", `detokenize: field "${field}" is invalid: ${e.message}`, {
    details: { ...e.details, field },
  });
}
