/**
 * lode's GGUF header reader: metadata and tensor infos of a GGUF v2/v3 file, read incrementally in
 * bounded chunks, never the tensor data. Every count is checked against {@link GgufLimits} and against
 * the bytes left in the file before it is used; the tensor infos are checked as llama.cpp's
 * `gguf_init_from_file` checks them (known type, whole blocks per row, aligned and packed data inside
 * the file). Any violation is a `LodeError("GGUF_INVALID")` saying what is wrong and where.
 *
 * @example
 * ```ts
 * import { readGgufHeader } from "./read_header.ts";
 * const h = await readGgufHeader("tests/fixtures/stories260K.gguf");
 * console.log(h.version, h.metadata.get("general.architecture")?.value, h.tensors.length);
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { BoundedReader } from "./bounded_reader.ts";
import { GGML_TYPES, ggmlTypeName } from "./ggml_types.ts";
import {
  alignUp,
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_TYPE,
  type GgufHeader,
  type GgufScalar,
  type GgufTensorInfo,
  type GgufValue,
  scalarSize,
} from "./gguf_types.ts";
import { type GgufLimits, resolveLimits } from "./limits.ts";

/** A file to read: a path, or an open file (read from its start; not closed). */
export type GgufSource = string | URL | Deno.FsFile;

/** Options of {@link readGgufHeader}. */
export interface ReadGgufOptions {
  /** Overrides of {@link DEFAULT_GGUF_LIMITS}. */
  limits?: Partial<GgufLimits>;
  /** How the file is named in errors (default: the path, or "GGUF file" for an open file). */
  label?: string;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Smallest possible key/value pair: empty key (u64 length), u32 type, a 1-byte value. */
const MIN_KV_BYTES = 8 + 4 + 1;
/** Smallest possible tensor info: empty name, u32 n_dims = 0, u32 type, u64 offset. */
const MIN_TENSOR_BYTES = 8 + 4 + 4 + 8;

/**
 * Reads and checks the header of a GGUF file. Rejects with `GGUF_INVALID` (wrong magic, v1 or an
 * unknown version, a truncated file, a count or length over the limits or over what the file holds,
 * an unknown value or tensor type, tensor data misaligned, overlapping or beyond the end of the file),
 * with `FILE_NOT_FOUND` when there is no file at the path, and with `IO` when it cannot be opened or
 * is not a regular file.
 * @example
 * ```ts
 * const h = await readGgufHeader("model.gguf", { limits: { maxHeaderBytes: 16 * 1024 * 1024 } });
 * const vocab = h.metadata.get("tokenizer.ggml.tokens"); // { type: 9, itemType: 8, length: 151936 }
 * ```
 */
export async function readGgufHeader(source: GgufSource, options: ReadGgufOptions = {}): Promise<GgufHeader> {
  const limits = resolveLimits(options.limits);
  if (typeof source === "string" || source instanceof URL) {
    const label = options.label ?? (source instanceof URL ? decodeURIComponent(source.pathname) : source);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(source, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new LodeError("FILE_NOT_FOUND", `no such file: ${label}`, {
          cause: e,
          details: { path: label },
        });
      }
      throw new LodeError("IO", `cannot open ${label}: ${e instanceof Error ? e.message : e}`, {
        cause: e,
        details: { path: label },
      });
    }
    try {
      return await readOpen(file, label, limits);
    } finally {
      file.close();
    }
  }
  return await readOpen(source, options.label ?? "GGUF file", limits);
}

async function readOpen(file: Deno.FsFile, label: string, limits: GgufLimits): Promise<GgufHeader> {
  const stat = await file.stat();
  if (!stat.isFile) {
    throw new LodeError("IO", `${label} is not a regular file`, { details: { path: label } });
  }
  await file.seek(0, Deno.SeekMode.Start);
  const r = new BoundedReader(file, { fileSize: stat.size, budget: limits.maxHeaderBytes, label });
  return await new HeaderParser(r, limits).parse();
}

class HeaderParser {
  #kept = 0;
  constructor(private readonly r: BoundedReader, private readonly limits: GgufLimits) {}

  async parse(): Promise<GgufHeader> {
    const r = this.r;
    if (r.fileSize === 0) throw r.invalid("the file is empty, not a GGUF model");
    if (r.fileSize < 4) throw r.invalid(`the file is only ${r.fileSize} bytes, not a GGUF model`);
    await r.ensure(4, "the magic");
    const magic = r.u32();
    if (magic !== GGUF_MAGIC) throw r.invalid(`not a GGUF file: wrong magic ${describeMagic(magic)}`, 0);
    await r.ensure(4, "the version");
    const version = r.u32();
    if (version === 1) {
      throw r.invalid("GGUF v1 is not supported (llama.cpp dropped it); convert the model again", 4);
    }
    if (version !== 2 && version !== 3) {
      const swapped = ((version & 0xff) << 24 | (version & 0xff00) << 8 | (version >>> 8) & 0xff00 |
        version >>> 24) >>> 0;
      const hint = swapped === 2 || swapped === 3
        ? " (a big-endian GGUF; only little-endian is supported)"
        : "";
      throw r.invalid(`unsupported GGUF version ${version}${hint}; lode reads v2 and v3`, 4);
    }
    await r.ensure(16, "the tensor and key/value counts");
    const tensorCount = this.count("tensor count", this.limits.maxTensorCount, MIN_TENSOR_BYTES);
    const kvCount = this.count("key/value count", this.limits.maxKvCount, MIN_KV_BYTES);

    const metadata = new Map<string, GgufValue>();
    let alignmentAt = 0;
    for (let i = 0; i < kvCount; i++) {
      const at = r.offset;
      const key = await this.string(`key of key/value pair ${i}`);
      if (metadata.has(key)) throw r.invalid(`duplicate key "${key}"`, at);
      if (key === "general.alignment") alignmentAt = at;
      metadata.set(key, await this.value(key));
    }
    const alignment = this.alignment(metadata.get("general.alignment"), alignmentAt);

    const tensors: GgufTensorInfo[] = [];
    const infoOffsets: number[] = [];
    const names = new Set<string>();
    let totalElements = 0n;
    for (let i = 0; i < tensorCount; i++) {
      const at = r.offset;
      const t = await this.tensorInfo(i);
      if (names.has(t.info.name)) throw r.invalid(`duplicate tensor name "${t.info.name}"`, at);
      names.add(t.info.name);
      totalElements += t.elements;
      if (totalElements > BigInt(this.limits.maxTotalElements)) {
        throw r.invalid(`the tensors hold more than ${this.limits.maxTotalElements} elements in total`, at);
      }
      tensors.push(t.info);
      infoOffsets.push(at);
    }
    const headerBytes = r.offset;
    const dataOffset = alignUp(headerBytes, alignment);
    this.checkData(tensors, infoOffsets, alignment, dataOffset);
    return { version, metadata, tensors, alignment, headerBytes, dataOffset, fileSize: r.fileSize };
  }

  /** A u64 count, checked against its limit and against the smallest bytes its items need. */
  count(what: string, limit: number, minItemBytes: number): number {
    const r = this.r;
    const at = r.offset;
    const n = r.u64();
    if (n > BigInt(limit)) throw r.invalid(`${what} ${n} exceeds the limit of ${limit}`, at);
    const count = Number(n);
    if (count * minItemBytes > r.remaining) {
      throw r.invalid(
        `${what} ${count} needs at least ${count * minItemBytes} bytes but only ${r.remaining} remain ` +
          (r.budget < r.fileSize ? "within the header limit" : "in the file"),
        at,
      );
    }
    return count;
  }

  /** A string's u64 length, checked (the caller then reads or skips that many bytes). */
  async stringLength(what: string, maxBytes = this.limits.maxStringBytes): Promise<number> {
    const r = this.r;
    await r.ensure(8, what);
    const at = r.offset;
    const n = r.u64();
    if (n > BigInt(maxBytes)) {
      throw r.invalid(`${what}: string length ${n} exceeds the limit of ${maxBytes}`, at);
    }
    const len = Number(n);
    r.check(len, what);
    return len;
  }

  async string(what: string, maxBytes?: number): Promise<string> {
    const len = await this.stringLength(what, maxBytes);
    await this.r.ensure(len, what);
    return this.r.utf8(len);
  }

  async value(key: string): Promise<GgufValue> {
    const r = this.r;
    await r.ensure(4, `type of "${key}"`);
    const at = r.offset;
    const type = r.u32();
    if (type !== GGUF_TYPE.ARRAY) {
      if (scalarSize(type) === undefined) throw r.invalid(`"${key}" has an unknown value type ${type}`, at);
      return { type, value: await this.scalar(type, `value of "${key}"`) };
    }
    await r.ensure(12, `array header of "${key}"`);
    const itemType = r.u32();
    if (itemType === GGUF_TYPE.ARRAY) throw r.invalid(`"${key}" is a nested array (not supported)`, at);
    const itemSize = scalarSize(itemType);
    if (itemSize === undefined) throw r.invalid(`"${key}" is an array of unknown value type ${itemType}`, at);
    const length = this.count(`length of array "${key}"`, this.limits.maxArrayLength, itemSize);
    const keep = length <= this.limits.keepArrayItems && this.#kept + length <= this.limits.maxKeptArrayItems;
    if (!keep) {
      await this.skipItems(itemType, itemSize, length, key);
      return { type, itemType, length };
    }
    this.#kept += length;
    const value: GgufScalar[] = [];
    const max = BigInt(this.limits.maxStringBytes);
    for (let i = 0; i < length; i++) {
      // Fast path: the item is buffered (and a string is within the limit); the slow path reports errors.
      if (itemType === GGUF_TYPE.STRING && r.available >= 8) {
        const n = r.peekU64();
        if (n <= max && 8 + Number(n) <= r.available) {
          r.advance(8);
          value.push(r.utf8(Number(n)));
          continue;
        }
      } else if (itemType !== GGUF_TYPE.STRING && r.available >= itemSize) {
        value.push(decodeScalar(itemType, r.view(itemSize)));
        continue;
      }
      value.push(await this.scalar(itemType, `item ${i} of "${key}"`));
    }
    return { type, itemType, length, value };
  }

  async skipItems(itemType: number, itemSize: number, length: number, key: string): Promise<void> {
    if (itemType !== GGUF_TYPE.STRING) return await this.r.skip(length * itemSize, `array "${key}"`);
    const r = this.r;
    const max = BigInt(this.limits.maxStringBytes);
    for (let i = 0; i < length; i++) {
      // Fast path: the whole string is buffered and within the limit (the slow path reports errors).
      if (r.available >= 8) {
        const n = r.peekU64();
        if (n <= max && 8 + Number(n) <= r.available) {
          r.advance(8 + Number(n));
          continue;
        }
      }
      const len = await this.stringLength(`item ${i} of "${key}"`);
      await r.skip(len, `item ${i} of "${key}"`);
    }
  }

  async scalar(type: number, what: string): Promise<GgufScalar> {
    const r = this.r;
    if (type === GGUF_TYPE.STRING) return await this.string(what);
    const size = scalarSize(type)!;
    await r.ensure(size, what);
    return decodeScalar(type, r.view(size));
  }

  alignment(value: GgufValue | undefined, at: number): number {
    if (value === undefined) return GGUF_DEFAULT_ALIGNMENT;
    const a = value.value;
    if (value.type !== GGUF_TYPE.UINT32 || typeof a !== "number") {
      throw this.r.invalid(`general.alignment must be a u32, got value type ${value.type}`, at);
    }
    if (a === 0 || (a & (a - 1)) !== 0) {
      throw this.r.invalid(`general.alignment ${a} is not a power of 2`, at);
    }
    return a;
  }

  async tensorInfo(i: number): Promise<{ info: GgufTensorInfo; elements: bigint }> {
    const r = this.r;
    const at = r.offset;
    const nameLen = await this.stringLength(`name of tensor ${i}`);
    if (nameLen >= GGML_MAX_NAME) {
      throw r.invalid(
        `name of tensor ${i} is ${nameLen} bytes; names must be shorter than ${GGML_MAX_NAME}`,
        at,
      );
    }
    await r.ensure(nameLen + 4, `tensor ${i}`);
    const name = r.utf8(nameLen);
    const nDims = r.u32();
    if (nDims > GGML_MAX_DIMS) {
      throw r.invalid(`tensor "${name}" has ${nDims} dimensions; ggml allows at most ${GGML_MAX_DIMS}`, at);
    }
    await r.ensure(8 * nDims + 12, `tensor "${name}"`);
    const dims: number[] = [];
    let elements = 1n;
    for (let d = 0; d < nDims; d++) {
      const n = r.u64();
      elements *= n;
      if (n > MAX_SAFE || elements > BigInt(this.limits.maxTotalElements)) {
        throw r.invalid(`tensor "${name}" is too large (dimension ${d} is ${n})`, at);
      }
      dims.push(Number(n));
    }
    const type = r.u32();
    const info = GGML_TYPES.get(type);
    if (!info) throw r.invalid(`tensor "${name}" has an unknown ggml type ${type}`, at);
    const row = dims[0] ?? 1;
    if (row % info.blockSize !== 0) {
      throw r.invalid(
        `tensor "${name}" of type ${info.name} has ${row} elements per row, not a multiple of its block size ${info.blockSize}`,
        at,
      );
    }
    const offset = r.u64();
    if (offset > MAX_SAFE) throw r.invalid(`tensor "${name}" has data offset ${offset}, beyond any file`, at);
    return { info: { name, dims, type, offset: Number(offset) }, elements };
  }

  /** Data of every tensor aligned, packed in order (as llama.cpp requires) and inside the file. */
  checkData(tensors: GgufTensorInfo[], infoOffsets: number[], alignment: number, dataOffset: number): void {
    const r = this.r;
    if (tensors.length > 0 && dataOffset > r.fileSize) {
      throw r.invalid(
        `the tensor data section starts at ${dataOffset}, beyond the end of the file`,
        dataOffset,
      );
    }
    let expected = 0;
    for (const [i, t] of tensors.entries()) {
      const at = infoOffsets[i]!;
      const info = GGML_TYPES.get(t.type)!;
      const bytes = (t.dims.reduce((a, b) => a * b, 1) / info.blockSize) * info.typeSize;
      if (t.offset % alignment !== 0) {
        throw r.invalid(
          `tensor "${t.name}" data offset ${t.offset} is not a multiple of the alignment ${alignment}`,
          at,
        );
      }
      if (t.offset !== expected) {
        throw r.invalid(
          `tensor "${t.name}" data is at offset ${t.offset}, expected ${expected} (data must be packed in order)`,
          at,
        );
      }
      const end = dataOffset + t.offset + bytes;
      if (end > r.fileSize) {
        throw r.invalid(
          `tensor "${t.name}" (${
            ggmlTypeName(t.type)
          }, ${bytes} bytes) ends at ${end}, beyond the end of the file (${r.fileSize} bytes)`,
          at,
        );
      }
      expected = alignUp(t.offset + bytes, alignment);
    }
  }
}

/** Decodes a fixed-size scalar of `type` from the start of `v`. */
function decodeScalar(type: number, v: DataView): GgufScalar {
  switch (type) {
    case GGUF_TYPE.UINT8:
      return v.getUint8(0);
    case GGUF_TYPE.INT8:
      return v.getInt8(0);
    case GGUF_TYPE.UINT16:
      return v.getUint16(0, true);
    case GGUF_TYPE.INT16:
      return v.getInt16(0, true);
    case GGUF_TYPE.UINT32:
      return v.getUint32(0, true);
    case GGUF_TYPE.INT32:
      return v.getInt32(0, true);
    case GGUF_TYPE.FLOAT32:
      return v.getFloat32(0, true);
    case GGUF_TYPE.BOOL:
      return v.getUint8(0) !== 0;
    case GGUF_TYPE.UINT64:
      return v.getBigUint64(0, true);
    case GGUF_TYPE.INT64:
      return v.getBigInt64(0, true);
    default:
      return v.getFloat64(0, true);
  }
}

function describeMagic(magic: number): string {
  const bytes = [magic & 0xff, (magic >>> 8) & 0xff, (magic >>> 16) & 0xff, magic >>> 24];
  const text = bytes.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "?")).join("");
  return `"${text}" (0x${bytes.map((b) => b.toString(16).padStart(2, "0")).join("")}), expected "GGUF"`;
}
