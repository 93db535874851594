/**
 * Every plugin failure names its plugin and hook: in the message (`plugin mirror (registry.resolve): …`)
 * and in `details.plugin` / `details.hook`.
 *
 * @example
 * ```ts
 * import { pluginError, tagged } from "./plugin_error.ts";
 * const e = pluginError("PLUGIN_TIMEOUT", "mirror", "registry.resolve", "no answer within 30000 ms");
 * e.details.plugin; // "mirror"
 * tagged(new Error("boom"), "mirror", "registry.resolve").code; // "PLUGIN_FAILED"
 * ```
 * @module
 */
import { ERROR_CODES, type ErrorCode, LodeError } from "../errors.ts";

/** A {@link LodeError} of `code` tagged with the plugin and the hook. */
export function pluginError(
  code: ErrorCode,
  plugin: string,
  hook: string,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): LodeError {
  return new LodeError(code, `plugin ${plugin} (${hook}): ${message}`, {
    details: { ...details, plugin, hook },
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * `e` tagged with the plugin and hook: a {@link LodeError} already tagged stays as it is, another keeps
 * its code and gets the tag, anything else thrown becomes `PLUGIN_FAILED`.
 */
export function tagged(e: unknown, plugin: string, hook: string): LodeError {
  if (e instanceof LodeError) {
    if (e.details.plugin !== undefined) return e;
    return new LodeError(e.code, `plugin ${plugin} (${hook}): ${e.message}`, {
      details: { ...e.details, plugin, hook },
      hint: e.hint,
      cause: e.cause,
    });
  }
  const message = e instanceof Error ? e.message : String(e);
  return pluginError("PLUGIN_FAILED", plugin, hook, message, {}, e);
}

/** An access the plugin's sandbox refused, as its error frame reported it: `PLUGIN_DENIED` naming it. */
export function deniedError(
  plugin: string,
  hook: string,
  error: { message: string; permission?: string; target?: string },
): LodeError {
  const what = error.permission ?? "an undeclared permission";
  return pluginError(
    "PLUGIN_DENIED",
    plugin,
    hook,
    `its sandbox refused ${what} access${error.target ? ` to ${error.target}` : ""}: ${error.message}`,
    { permission: error.permission ?? null, target: error.target ?? null },
  );
}

/**
 * A call's failure as its error frame reported it: the catalogue code the plugin named (`USAGE`,
 * `CONTEXT_LENGTH_EXCEEDED`, …) with its details, else `PLUGIN_FAILED`; tagged with the plugin and hook
 * either way. A code the catalogue does not have is kept in `details.plugin_code`.
 */
export function failedError(
  plugin: string,
  hook: string,
  error: { kind: string; message: string; code?: string; details?: Record<string, unknown> },
): LodeError {
  const known = error.code !== undefined && Object.hasOwn(ERROR_CODES, error.code);
  const code: ErrorCode = known ? error.code as ErrorCode : "PLUGIN_FAILED";
  const extra = known ? {} : error.code === undefined ? {} : { plugin_code: error.code };
  return pluginError(code, plugin, hook, error.message, { ...error.details, ...extra, kind: error.kind });
}

/**
 * `FRAME_TOO_LARGE` for a call to `plugin` whose line of `bytes` is longer than the `limit` the plugin reads
 * (`large` when it listed `large_frames`): refused before it is sent.
 */
export function frameTooLarge(
  plugin: string,
  hook: string,
  bytes: number,
  limit: number,
  large: boolean,
): LodeError {
  const why = large ? "" : " (it does not list the large_frames feature)";
  return new LodeError(
    "FRAME_TOO_LARGE",
    `plugin ${plugin} (${hook}): the call is ${bytes} bytes, more than the ${limit} the plugin reads${why}`,
    {
      details: { plugin, hook, bytes, limit },
      hint:
        "Split the input into smaller calls (fewer or shorter texts), or use a plugin that lists large_frames.",
    },
  );
}
