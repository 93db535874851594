/**
 * A small, bounded reader and encoder for GGUF (v2/v3) headers: the key/value metadata and the tensor
 * infos that precede the tensor data. Used by the tiny-model generator to copy a real tokenizer and to
 * write valid files. It never reads tensor data and refuses headers larger than a cap.
 *
 * Layout (little-endian): magic "GGUF", u32 version, u64 tensor_count, u64 kv_count, kv_count key/value
 * pairs, tensor_count tensor infos, padding to `general.alignment` (default 32), then the data section.
 * @module
 */

/**
 * GGUF metadata value type codes.
 * @example
 * ```ts
 * const v: GgufValue = { type: GGUF_TYPE.UINT32, value: 32 };
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
 * ggml tensor element types this module names (others still parse, as plain numbers).
 * @example
 * ```ts
 * const t: GgufTensorInfo = { name: "output_norm.weight", dims: [64], type: GGML_TYPE.F32, offset: 0 };
 * ```
 */
export const GGML_TYPE = { F32: 0, F16: 1 } as const;

/**
 * The 4 magic bytes "GGUF" read as a little-endian u32.
 * @example
 * ```ts
 * const isGguf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0, true) === GGUF_MAGIC;
 * ```
 */
export const GGUF_MAGIC = 0x46554747;

/** One scalar metadata value: 64-bit integers are bigints, the rest plain JS values. */
export type GgufScalar = number | bigint | boolean | string;

/** A typed metadata value, kept with its GGUF type so it can be written back byte-for-byte. */
export type GgufValue =
  | { type: number; value: GgufScalar }
  | { type: typeof GGUF_TYPE.ARRAY; itemType: number; value: GgufScalar[] };

/** A tensor info record: `dims` are in ggml order (ne0 first), `offset` is relative to the data section. */
export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: number;
  offset: number;
}

/** A parsed GGUF header. `dataOffset` is where the (aligned) tensor data section begins in the file. */
export interface GgufHeader {
  version: number;
  kv: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  dataOffset: number;
}

/** Limits that keep a hostile or corrupt header from allocating without bound. */
export interface GgufReadLimits {
  /** Largest header read from disk, in bytes (default 64 MiB). */
  maxHeaderBytes?: number;
  /** Largest key/value or tensor count, and largest array length (default 16 Mi). */
  maxCount?: number;
}

const DEFAULT_MAX_HEADER = 64 * 1024 * 1024;
const DEFAULT_MAX_COUNT = 16 * 1024 * 1024;

/** Thrown by the parser when the buffer ends before the header does; the file reader then reads more. */
class TruncatedError extends Error {}

class Cursor {
  pos = 0;
  private readonly view: DataView;
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });
  constructor(private readonly bytes: Uint8Array, private readonly maxCount: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private take(n: number): number {
    if (this.pos + n > this.bytes.byteLength) throw new TruncatedError("GGUF header truncated");
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8 = (): number => this.view.getUint8(this.take(1));
  u32 = (): number => this.view.getUint32(this.take(4), true);
  count(what: string): number {
    const n = this.view.getBigUint64(this.take(8), true);
    if (n > BigInt(this.maxCount)) throw new Error(`GGUF ${what} ${n} exceeds limit ${this.maxCount}`);
    return Number(n);
  }
  u64 = (): number => {
    const n = this.view.getBigUint64(this.take(8), true);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`GGUF value ${n} too large`);
    return Number(n);
  };
  string(): string {
    const n = this.count("string length");
    const at = this.take(n);
    return this.decoder.decode(this.bytes.subarray(at, at + n));
  }
  scalar(type: number): GgufScalar {
    const v = this.view;
    switch (type) {
      case GGUF_TYPE.UINT8:
        return v.getUint8(this.take(1));
      case GGUF_TYPE.INT8:
        return v.getInt8(this.take(1));
      case GGUF_TYPE.UINT16:
        return v.getUint16(this.take(2), true);
      case GGUF_TYPE.INT16:
        return v.getInt16(this.take(2), true);
      case GGUF_TYPE.UINT32:
        return v.getUint32(this.take(4), true);
      case GGUF_TYPE.INT32:
        return v.getInt32(this.take(4), true);
      case GGUF_TYPE.FLOAT32:
        return v.getFloat32(this.take(4), true);
      case GGUF_TYPE.BOOL:
        return v.getUint8(this.take(1)) !== 0;
      case GGUF_TYPE.STRING:
        return this.string();
      case GGUF_TYPE.UINT64:
        return v.getBigUint64(this.take(8), true);
      case GGUF_TYPE.INT64:
        return v.getBigInt64(this.take(8), true);
      case GGUF_TYPE.FLOAT64:
        return v.getFloat64(this.take(8), true);
      default:
        throw new Error(`GGUF: unknown value type ${type}`);
    }
  }
  value(): GgufValue {
    const type = this.u32();
    if (type !== GGUF_TYPE.ARRAY) return { type, value: this.scalar(type) };
    const itemType = this.u32();
    if (itemType === GGUF_TYPE.ARRAY) throw new Error("GGUF: nested arrays are not supported");
    const n = this.count("array length");
    const value: GgufScalar[] = [];
    for (let i = 0; i < n; i++) value.push(this.scalar(itemType));
    return { type: GGUF_TYPE.ARRAY, itemType, value };
  }
}

/**
 * Parses a GGUF header from the first bytes of a file. Throws if `bytes` ends before the header does.
 * @example
 * ```ts
 * const head = await Deno.readFile("tests/fixtures/stories260K.gguf");
 * const h = parseGgufHeader(head);
 * console.log(h.version, h.kv.get("general.architecture")?.value);
 * ```
 */
export function parseGgufHeader(bytes: Uint8Array, limits: GgufReadLimits = {}): GgufHeader {
  const c = new Cursor(bytes, limits.maxCount ?? DEFAULT_MAX_COUNT);
  if (c.u32() !== GGUF_MAGIC) throw new Error("not a GGUF file (bad magic)");
  const version = c.u32();
  if (version !== 2 && version !== 3) throw new Error(`unsupported GGUF version ${version}`);
  const tensorCount = c.count("tensor count");
  const kvCount = c.count("kv count");
  const kv = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string();
    kv.set(key, c.value());
  }
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string();
    const nDims = c.u32();
    if (nDims > 4) throw new Error(`GGUF tensor ${name}: ${nDims} dims`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.u64());
    tensors.push({ name, dims, type: c.u32(), offset: c.u64() });
  }
  const a = kv.get("general.alignment");
  const alignment = a && typeof a.value === "number" ? a.value : 32;
  if (!Number.isInteger(alignment) || alignment <= 0) throw new Error(`GGUF: bad alignment ${alignment}`);
  return { version, kv, tensors, alignment, dataOffset: alignUp(c.pos, alignment) };
}

/**
 * Reads and parses the header of a GGUF file, reading only as many bytes as the header needs (doubling
 * from 1 MiB up to `maxHeaderBytes`).
 * @example
 * ```ts
 * const h = await readGgufHeader("tests/fixtures/stories260K.gguf");
 * console.log(h.tensors.length, h.dataOffset);
 * ```
 */
export async function readGgufHeader(path: string | URL, limits: GgufReadLimits = {}): Promise<GgufHeader> {
  const max = limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  let want = Math.min(size, max, 1024 * 1024);
  for (;;) {
    const buf = new Uint8Array(want);
    await file.seek(0, Deno.SeekMode.Start);
    let got = 0;
    while (got < want) {
      const n = await file.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    try {
      return parseGgufHeader(buf.subarray(0, got), limits);
    } catch (e) {
      if (!(e instanceof TruncatedError)) throw e;
      if (got < want || want >= Math.min(size, max)) {
        throw new Error(`GGUF header of ${path} is truncated or larger than ${max} bytes`);
      }
      want = Math.min(size, max, want * 2);
    }
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

/** A growable little-endian byte writer. */
class Builder {
  private buf = new Uint8Array(64 * 1024);
  private view = new DataView(this.buf.buffer);
  pos = 0;
  private readonly encoder = new TextEncoder();
  private room(n: number): number {
    if (this.pos + n > this.buf.byteLength) {
      const next = new Uint8Array(Math.max(this.buf.byteLength * 2, this.pos + n));
      next.set(this.buf.subarray(0, this.pos));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u32 = (n: number): void => this.view.setUint32(this.room(4), n, true);
  u64 = (n: number | bigint): void => this.view.setBigUint64(this.room(8), BigInt(n), true);
  string(s: string): void {
    const b = this.encoder.encode(s);
    this.u64(b.byteLength);
    this.buf.set(b, this.room(b.byteLength));
  }
  scalar(type: number, x: GgufScalar): void {
    const v = this.view;
    const num = (): number => {
      if (typeof x !== "number") throw new Error(`GGUF: expected a number for type ${type}, got ${typeof x}`);
      return x;
    };
    switch (type) {
      case GGUF_TYPE.UINT8:
        return v.setUint8(this.room(1), num());
      case GGUF_TYPE.INT8:
        return v.setInt8(this.room(1), num());
      case GGUF_TYPE.UINT16:
        return v.setUint16(this.room(2), num(), true);
      case GGUF_TYPE.INT16:
        return v.setInt16(this.room(2), num(), true);
      case GGUF_TYPE.UINT32:
        return v.setUint32(this.room(4), num(), true);
      case GGUF_TYPE.INT32:
        return v.setInt32(this.room(4), num(), true);
      case GGUF_TYPE.FLOAT32:
        return v.setFloat32(this.room(4), num(), true);
      case GGUF_TYPE.BOOL:
        return v.setUint8(this.room(1), x ? 1 : 0);
      case GGUF_TYPE.STRING:
        return this.string(String(x));
      case GGUF_TYPE.UINT64:
        return v.setBigUint64(this.room(8), BigInt(x as number | bigint), true);
      case GGUF_TYPE.INT64:
        return v.setBigInt64(this.room(8), BigInt(x as number | bigint), true);
      case GGUF_TYPE.FLOAT64:
        return v.setFloat64(this.room(8), num(), true);
      default:
        throw new Error(`GGUF: unknown value type ${type}`);
    }
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/**
 * Encodes a GGUF v3 header (magic through the padding before the data section). The result's length is
 * the data section's offset in the file. Tensor offsets must already be aligned.
 * @example
 * ```ts
 * const kv = new Map([["general.alignment", { type: GGUF_TYPE.UINT32, value: 32 }]]);
 * const head = encodeGgufHeader(kv, [{ name: "w", dims: [8], type: GGML_TYPE.F32, offset: 0 }]);
 * console.log(head.byteLength % 32); // 0
 * ```
 */
export function encodeGgufHeader(kv: Map<string, GgufValue>, tensors: GgufTensorInfo[]): Uint8Array {
  const a = kv.get("general.alignment");
  const alignment = a && typeof a.value === "number" ? a.value : 32;
  const b = new Builder();
  b.u32(GGUF_MAGIC);
  b.u32(3);
  b.u64(tensors.length);
  b.u64(kv.size);
  for (const [key, val] of kv) {
    b.string(key);
    b.u32(val.type);
    if ("itemType" in val) {
      b.u32(val.itemType);
      b.u64(val.value.length);
      for (const x of val.value) b.scalar(val.itemType, x);
    } else {
      b.scalar(val.type, val.value);
    }
  }
  for (const t of tensors) {
    if (t.offset % alignment !== 0) throw new Error(`GGUF: tensor ${t.name} offset not aligned`);
    b.string(t.name);
    b.u32(t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(t.type);
    b.u64(t.offset);
  }
  const out = new Uint8Array(alignUp(b.pos, alignment));
  out.set(b.bytes());
  return out;
}
