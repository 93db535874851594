/**
 * The shapes of a GGUF header: metadata value types, typed values, tensor infos and the parsed header.
 *
 * Layout (little-endian, v2 and v3): magic "GGUF", u32 version, u64 tensor_count, u64 kv_count,
 * kv_count key/value pairs, tensor_count tensor infos, padding to `general.alignment` (default 32),
 * then the tensor data section.
 *
 * @example
 * ```ts
 * import { GGUF_TYPE, type GgufValue } from "./gguf_types.ts";
 * const v: GgufValue = { type: GGUF_TYPE.UINT32, value: 2048 };
 * ```
 * @module
 */

/**
 * GGUF metadata value type codes.
 * @example
 * ```ts
 * const v: GgufValue = { type: GGUF_TYPE.STRING, value: "llama" };
 * ```
 */
export const GGUF_TYPE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/**
 * The 4 magic bytes "GGUF" read as a little-endian u32.
 * @example
 * ```ts
 * const isGguf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0, true) === GGUF_MAGIC;
 * ```
 */
export const GGUF_MAGIC = 0x46554747;

/**
 * The alignment of the data section when `general.alignment` is absent.
 */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/**
 * The most dimensions a ggml tensor has (`GGML_MAX_DIMS`).
 */
export const GGML_MAX_DIMS = 4;

/**
 * Tensor names must be shorter than this many bytes (`GGML_MAX_NAME`).
 * @example
 * ```ts
 * const ok = new TextEncoder().encode(name).length < GGML_MAX_NAME;
 * ```
 */
export const GGML_MAX_NAME = 64;

/** One scalar metadata value: 64-bit integers are bigints, the rest plain JS values. */
export type GgufScalar = number | bigint | boolean | string;

/** A scalar metadata value with its GGUF type. */
export interface GgufScalarValue {
  type: number;
  value: GgufScalar;
}

/**
 * An array metadata value. `value` holds the items, or is absent when the array was longer than the
 * reader was asked to keep (tokenizer vocabularies): the items were then checked and skipped, and only
 * `length` is known.
 */
export interface GgufArrayValue {
  type: typeof GGUF_TYPE.ARRAY;
  itemType: number;
  length: number;
  value?: GgufScalar[];
}

/** A typed metadata value, kept with its GGUF type so it can be written back byte-for-byte. */
export type GgufValue = GgufScalarValue | GgufArrayValue;

/** A tensor info record: `dims` in ggml order (ne0 first); `offset` relative to the data section. */
export interface GgufTensorInfo {
  name: string;
  dims: number[];
  /** A ggml type code (see `GGML_TYPES`). */
  type: number;
  offset: number;
}

/** A parsed GGUF header. */
export interface GgufHeader {
  /** 2 or 3. */
  version: number;
  /** Key → typed value, in file order. */
  metadata: Map<string, GgufValue>;
  /** Tensor infos, in file order (their data is packed in this order). */
  tensors: GgufTensorInfo[];
  /** `general.alignment`, else 32. */
  alignment: number;
  /** Where the header (metadata and tensor infos) ends in the file. */
  headerBytes: number;
  /** Where the tensor data section begins in the file (`headerBytes` rounded up to `alignment`). */
  dataOffset: number;
  /** Size of the file the header was read from. */
  fileSize: number;
}

/**
 * Bytes one item of a scalar GGUF value type takes in the file (strings: their minimum, the u64
 * length); `undefined` for ARRAY and unknown types.
 * @example
 * ```ts
 * scalarSize(GGUF_TYPE.UINT32); // 4
 * scalarSize(GGUF_TYPE.STRING); // 8 (at least)
 * ```
 */
export function scalarSize(type: number): number | undefined {
  switch (type) {
    case GGUF_TYPE.UINT8:
    case GGUF_TYPE.INT8:
    case GGUF_TYPE.BOOL:
      return 1;
    case GGUF_TYPE.UINT16:
    case GGUF_TYPE.INT16:
      return 2;
    case GGUF_TYPE.UINT32:
    case GGUF_TYPE.INT32:
    case GGUF_TYPE.FLOAT32:
      return 4;
    case GGUF_TYPE.UINT64:
    case GGUF_TYPE.INT64:
    case GGUF_TYPE.FLOAT64:
    case GGUF_TYPE.STRING:
      return 8;
    default:
      return undefined;
  }
}

/**
 * Rounds `n` up to a multiple of `alignment`.
 * @example
 * ```ts
 * alignUp(33, 32); // 64
 * ```
 */
export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
