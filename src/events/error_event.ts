/**
 * The CLI's `error` event: with `--json`, a command that fails prints its
 * `LodeError` as one NDJSON line (`src/cli/output.ts`; `lode export -` prints
 * it on stderr, where its other events go).
 *
 * - `code`: the stable code from the catalogue in `src/errors.ts`.
 * - `message`: what went wrong; `hint`: what to do about it.
 * - `details`: structured fields of the failure (paths, digests, sizes…).
 *
 * @example
 * ```ts
 * import { ErrorEvent } from "./error_event.ts";
 * ErrorEvent.parse({ event: "error", code: "MODEL_NOT_FOUND", message: "…", hint: "…", details: {} });
 * ```
 * @module
 */
import { z } from "zod";

export const ErrorEvent = z.object({
  event: z.literal("error"),
  code: z.string(),
  message: z.string(),
  hint: z.string(),
  details: z.record(z.string(), z.unknown()),
});
export type ErrorEvent = z.infer<typeof ErrorEvent>;
