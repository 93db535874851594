/**
 * The bounds a GGUF header must stay within to be read. Every count in a header is untrusted: it is
 * checked against these limits and against the bytes left in the file before anything is allocated.
 *
 * @example
 * ```ts
 * import { resolveLimits } from "./limits.ts";
 * const limits = resolveLimits({ maxHeaderBytes: 1024 * 1024 });
 * ```
 * @module
 */

/** Limits of {@link resolveLimits}; every field has a default in {@link DEFAULT_GGUF_LIMITS}. */
export interface GgufLimits {
  /** Bytes of header (metadata and tensor infos) read at most. */
  maxHeaderBytes: number;
  /** Key/value pairs at most. */
  maxKvCount: number;
  /** Tensors at most. */
  maxTensorCount: number;
  /** Bytes of one string (key, value, array item, tensor name) at most. */
  maxStringBytes: number;
  /** Items of one metadata array at most (tokenizer vocabularies have ~150k–260k). */
  maxArrayLength: number;
  /** Elements of all tensors together at most (the parameter count). */
  maxTotalElements: number;
  /**
   * Arrays with at most this many items are kept in the result; longer ones are checked and skipped,
   * their `length` kept (memory stays small for 150k-token vocabularies).
   */
  keepArrayItems: number;
  /** Array items kept in the result over the whole header at most; later arrays are skipped. */
  maxKeptArrayItems: number;
}

/**
 * The defaults: generous for real models (a 64 MiB header holds any tokenizer in use; the largest
 * models have a few thousand tensors), small enough that a hostile header costs little.
 * @example
 * ```ts
 * DEFAULT_GGUF_LIMITS.maxHeaderBytes; // 67108864
 * ```
 */
export const DEFAULT_GGUF_LIMITS: Readonly<GgufLimits> = Object.freeze({
  maxHeaderBytes: 64 * 1024 * 1024,
  maxKvCount: 65_536,
  maxTensorCount: 65_536,
  maxStringBytes: 16 * 1024 * 1024,
  maxArrayLength: 16 * 1024 * 1024,
  maxTotalElements: 2 ** 50,
  keepArrayItems: 1024,
  maxKeptArrayItems: 1024 * 1024,
});

/**
 * The defaults with `overrides` applied; each override must be a non-negative integer (or Infinity for
 * the `keep*` fields).
 * @example
 * ```ts
 * resolveLimits({ keepArrayItems: Infinity }).keepArrayItems; // Infinity
 * ```
 */
export function resolveLimits(overrides: Partial<GgufLimits> = {}): GgufLimits {
  const out = { ...DEFAULT_GGUF_LIMITS };
  for (const [key, value] of Object.entries(overrides) as [keyof GgufLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_GGUF_LIMITS)) throw new TypeError(`unknown GGUF limit "${key}"`);
    const keep = key === "keepArrayItems" || key === "maxKeptArrayItems";
    if (!(value >= 0) || (!Number.isSafeInteger(value) && !(keep && value === Infinity))) {
      throw new TypeError(`GGUF limit ${key} must be a non-negative integer, got ${value}`);
    }
    out[key] = value;
  }
  return out;
}
