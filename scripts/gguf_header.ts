/**
 * The GGUF header encoder of the tiny-model generator: writes key/value metadata and tensor infos as a
 * GGUF v3 header. Reading is lode's own bounded reader (src/gguf/).
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
  /** Reserves `n` bytes, then writes them through the (possibly regrown) view. */
  private put(n: number, write: (view: DataView, at: number) => void): void {
    const at = this.room(n);
    write(this.view, at);
  }
  u32 = (n: number): void => this.put(4, (v, at) => v.setUint32(at, n, true));
  u64 = (n: number | bigint): void => this.put(8, (v, at) => v.setBigUint64(at, BigInt(n), true));
  string(s: string): void {
    const b = this.encoder.encode(s);
    this.u64(b.byteLength);
    const at = this.room(b.byteLength);
    this.buf.set(b, at);
  }
  scalar(type: number, x: GgufScalar): void {
    const num = (): number => {
      if (typeof x !== "number") throw new Error(`GGUF: expected a number for type ${type}, got ${typeof x}`);
      return x;
    };
    switch (type) {
      case GGUF_TYPE.UINT8:
        return this.put(1, (v, at) => v.setUint8(at, num()));
      case GGUF_TYPE.INT8:
        return this.put(1, (v, at) => v.setInt8(at, num()));
      case GGUF_TYPE.UINT16:
        return this.put(2, (v, at) => v.setUint16(at, num(), true));
      case GGUF_TYPE.INT16:
        return this.put(2, (v, at) => v.setInt16(at, num(), true));
      case GGUF_TYPE.UINT32:
        return this.put(4, (v, at) => v.setUint32(at, num(), true));
      case GGUF_TYPE.INT32:
        return this.put(4, (v, at) => v.setInt32(at, num(), true));
      case GGUF_TYPE.FLOAT32:
        return this.put(4, (v, at) => v.setFloat32(at, num(), true));
      case GGUF_TYPE.BOOL:
        return this.put(1, (v, at) => v.setUint8(at, x ? 1 : 0));
      case GGUF_TYPE.STRING:
        return this.string(String(x));
      case GGUF_TYPE.UINT64:
        return this.put(8, (v, at) => v.setBigUint64(at, BigInt(x as number | bigint), true));
      case GGUF_TYPE.INT64:
        return this.put(8, (v, at) => v.setBigInt64(at, BigInt(x as number | bigint), true));
      case GGUF_TYPE.FLOAT64:
        return this.put(8, (v, at) => v.setFloat64(at, num(), true));
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
