/**
 * The GGUF header encoder of the tiny-model generator: writes key/value metadata and tensor infos as a
 * GGUF v3 header. Reading is lode's own bounded reader (src/gguf/), re-exported here for the scripts.
 *
 * Layout (little-endian): magic "GGUF", u32 version, u64 tensor_count, u64 kv_count, kv_count key/value
 * pairs, tensor_count tensor infos, padding to `general.alignment` (default 32), then the data section.
 * @module
 */
import {
  alignUp,
  GGUF_MAGIC,
  GGUF_TYPE,
  type GgufScalar,
  type GgufTensorInfo,
  type GgufValue,
} from "../src/gguf/mod.ts";

export {
  alignUp,
  GGUF_MAGIC,
  GGUF_TYPE,
  type GgufHeader,
  type GgufScalar,
  type GgufTensorInfo,
  type GgufValue,
  readGgufHeader,
} from "../src/gguf/mod.ts";

/**
 * ggml tensor element types the generator writes.
 * @example
 * ```ts
 * const t: GgufTensorInfo = { name: "output_norm.weight", dims: [64], type: GGML_TYPE.F32, offset: 0 };
 * ```
 */
export const GGML_TYPE = { F32: 0, F16: 1 } as const;

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
      if (val.value === undefined) {
        throw new Error(`GGUF: array "${key}" was skipped when read; read it with a larger keepArrayItems`);
      }
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
