/**
 * A model the store lacks but the lockfile pins: `lode sync` installs it, and the error says so. Applied
 * by the CLI to every command's failure ({@link withLockfileHint}), so `lode run NAME`, `inspect`, `path`,
 * `export` and `verify` — in this process or through a daemon — all point there.
 *
 * @example
 * ```ts
 * import { LodeError } from "../errors.ts";
 * import { withLockfileHint } from "./lockfile_hint.ts";
 * const miss = new LodeError("MODEL_NOT_FOUND", "no model named \"m\"", { details: { name: "m", store: "/s" } });
 * const error = await withLockfileHint(miss, "ci/lode.lock");
 * console.log(error.hint); // "ci/lode.lock pins "m" but the store lacks it: …"
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";

/**
 * `error`, with a hint naming `lode sync` when it is the store's `MODEL_NOT_FOUND` (its details name the
 * model and the store) for a name the lockfile (`configuredLockfile` from `$LODE_LOCKFILE`, else
 * `./lode.lock`) pins. Any other
 * error, and any lockfile that is missing or cannot be read, leaves `error` as it is.
 */
export async function withLockfileHint(
  error: LodeError,
  configuredLockfile: string | undefined,
): Promise<LodeError> {
  const { name, store } = error.details;
  if (error.code !== "MODEL_NOT_FOUND" || typeof name !== "string" || typeof store !== "string") return error;
  const { findEntry, lockfilePath, readLockfileIfPresent } = await import("../lock/lockfile.ts");
  const path = lockfilePath(undefined, configuredLockfile);
  const lock = await readLockfileIfPresent(path).catch(() => null);
  if (lock === null || findEntry(lock, name) === undefined) return error;
  // `lode sync` reads the same lockfile ($LODE_LOCKFILE, else ./lode.lock): no flag to repeat.
  return new LodeError(error.code, error.message, {
    details: { ...error.details, lockfile: path },
    hint: `${configuredLockfile ?? "./lode.lock"} pins "${name}" but the store lacks it: ` +
      `\`lode sync ${name}\` installs it (\`lode sync\`: every model the lockfile pins).`,
    cause: error,
  });
}
