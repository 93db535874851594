/**
 * The typed, user-facing failure of lode ({@link LodeError}): a stable `code` of the catalogue
 * (`errors_catalogue.ts`, re-exported here), structured `details`, a hint that says what to do, and the
 * process exit code the CLI uses for it; and the conversions of other failures into one.
 *
 * @example
 * ```ts
 * import { LodeError } from "./errors.ts";
 * throw new LodeError("DIGEST_MISMATCH", "sha256 of the downloaded bytes does not match", {
 *   details: { expected: "ab…", actual: "cd…" },
 * });
 * ```
 * @module
 */
import { type CatalogueEntry, ERROR_CODES, type ErrorCode } from "./errors_catalogue.ts";

export { ERROR_CODES, type ErrorCode, EXIT } from "./errors_catalogue.ts";

/** Options of {@link LodeError}. */
export interface LodeErrorOptions {
  /** Structured fields (paths, hashes, hosts) for `--json` output and tests. */
  details?: Record<string, unknown>;
  /** A more specific hint than the catalogue's. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * A typed, user-facing failure.
 *
 * @example
 * ```ts
 * const pull = (): Promise<void> => Promise.reject(new LodeError("LOCK_CONTENDED", "stories260K is locked"));
 * try {
 *   await pull();
 * } catch (e) {
 *   if (isLodeError(e, "LOCK_CONTENDED")) console.error(`try again later: ${e.message}`);
 * }
 * ```
 */
export class LodeError extends Error {
  override readonly name = "LodeError";
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly hint: string;

  constructor(code: ErrorCode, message: string, options: LodeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    this.hint = options.hint ?? ERROR_CODES[code].hint;
  }

  /** The process exit code for this error. */
  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }

  /** The JSON shape printed by `--json` and sent over sockets. */
  toJSON(): { code: ErrorCode; message: string; hint: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

/** True when `e` is a {@link LodeError}, optionally with the given code. */
export function isLodeError(e: unknown, code?: ErrorCode): e is LodeError {
  return e instanceof LodeError && (code === undefined || e.code === code);
}

/**
 * `e` as a daemon reports it to its clients: when the remedy is a setting of the process that failed (a
 * CA certificate, allowed hosts, offline mode, the free-space cushion, a proxy, the memory check), that
 * process is the daemon, so the catalogue's `daemon` hint names `lode serve`'s flags and environment
 * instead of the client's. An error with a hint of its own, or without a daemon hint, is returned as is.
 *
 * @example
 * ```ts
 * const e = asDaemonError(new LodeError("TLS", "TLS to origin.test failed: UnknownIssuer"));
 * e.hint.includes("lode serve"); // true
 * ```
 */
export function asDaemonError(e: LodeError): LodeError {
  const entry: CatalogueEntry = ERROR_CODES[e.code];
  if (entry.daemon === undefined || e.hint !== entry.hint) return e;
  return new LodeError(e.code, e.message, { details: e.details, hint: entry.daemon, cause: e.cause });
}

/** Wraps anything thrown into a {@link LodeError}; LodeErrors pass through unchanged. */
export function toLodeError(e: unknown, fallback: ErrorCode = "INTERNAL"): LodeError {
  if (e instanceof LodeError) return e;
  if (e instanceof Deno.errors.NotFound) {
    return new LodeError("IO", String((e as Error).message), { cause: e });
  }
  if (e instanceof Deno.errors.PermissionDenied) return new LodeError("IO", String(e.message), { cause: e });
  if (e instanceof Error && /ENOSPC|No space left/i.test(e.message)) {
    return new LodeError("INSUFFICIENT_SPACE", "the disk is full: " + e.message, { cause: e });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new LodeError(fallback, message, { cause: e });
}

/**
 * An error thrown while writing `path` outside the store (an export, a batch's output) as a {@link LodeError}:
 * a full disk is `INSUFFICIENT_SPACE` naming `path`, with `hint` (the catalogue's hint is about the store's
 * disk); anything else as {@link toLodeError}.
 * @example
 * ```ts
 * const e = writeError(new Error("No space left on device (os error 28)"), "/mnt/usb/m.lode", "Free space there.");
 * e.message; // "cannot write /mnt/usb/m.lode: its disk is full"
 * ```
 */
export function writeError(e: unknown, path: string, hint: string): LodeError {
  if (e instanceof LodeError) return e;
  const error = toLodeError(e, "IO");
  if (error.code !== "INSUFFICIENT_SPACE") return error;
  return new LodeError("INSUFFICIENT_SPACE", `cannot write ${path}: its disk is full`, {
    cause: e,
    details: { path },
    hint,
  });
}
