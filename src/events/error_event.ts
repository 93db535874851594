/**
 * How lode reports an error in NDJSON: one shape, {@link ErrorFields}, wherever a failure is printed —
 * the CLI's `error` event (a command that fails prints its `LodeError` as one line, `src/cli/output.ts`;
 * `lode export -` prints it on stderr, where its other events go), a pull's `failed` event
 * (`download_event.ts`) and the `problem` of an unreadable manifest (`store_event.ts`).
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

/**
 * The fields of every error lode prints (`LodeError.toJSON()`).
 *
 * @example
 * ```ts
 * import { ErrorFields } from "./error_event.ts";
 * ErrorFields.parse({ code: "OFFLINE", message: "…", hint: "Drop --offline.", details: {} });
 * ```
 */
export const ErrorFields = z.object({
  code: z.string(),
  message: z.string(),
  hint: z.string(),
  details: z.record(z.string(), z.unknown()),
});
export type ErrorFields = z.infer<typeof ErrorFields>;

/** A command failed. */
export const ErrorEvent = ErrorFields.extend({ event: z.literal("error") });
export type ErrorEvent = z.infer<typeof ErrorEvent>;
