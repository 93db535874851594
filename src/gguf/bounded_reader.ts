/**
 * A forward-only little-endian reader over the start of a file, in bounded chunks. It never reads past
 * the end of the file or past a byte budget, never allocates more than one chunk (or one checked
 * string) at a time, and every read either makes progress or throws `GGUF_INVALID`: it cannot hang.
 *
 * @example
 * ```ts
 * import { BoundedReader } from "./bounded_reader.ts";
 * using file = await Deno.open("tests/fixtures/stories260K.gguf");
 * const size = (await file.stat()).size;
 * const r = new BoundedReader(file, { fileSize: size, budget: 1 << 20, label: "stories260K.gguf" });
 * await r.ensure(8);
 * console.log(r.u32(), r.u32()); // magic, version
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";

/** Options of {@link BoundedReader}. */
export interface BoundedReaderOptions {
  /** Size of the file; nothing past it is read. */
  fileSize: number;
  /** Bytes from the start of the file the reader may consume at most (the header limit). */
  budget: number;
  /** How the file is named in error messages. */
  label: string;
  /** Bytes read per `read` call (default 64 KiB; a longer item grows the buffer to fit it). */
  chunkBytes?: number;
}

const DEFAULT_CHUNK = 64 * 1024;
const decoder = new TextDecoder("utf-8");

/** Sequential reader of a file's first `budget` bytes. Assumes the file position starts at 0. */
export class BoundedReader {
  readonly fileSize: number;
  readonly budget: number;
  readonly label: string;
  #file: Deno.FsFile;
  #buf: Uint8Array;
  #view: DataView;
  /** Next unread byte in #buf. */
  #start = 0;
  /** End of the valid bytes in #buf. */
  #end = 0;
  /** File offset of #buf[#end]. */
  #filePos = 0;

  constructor(file: Deno.FsFile, options: BoundedReaderOptions) {
    this.#file = file;
    this.fileSize = options.fileSize;
    this.budget = Math.min(options.budget, options.fileSize);
    this.label = options.label;
    this.#buf = new Uint8Array(Math.max(16, Math.min(options.chunkBytes ?? DEFAULT_CHUNK, this.budget)));
    this.#view = new DataView(this.#buf.buffer);
  }

  /** File offset of the next byte to be read. */
  get offset(): number {
    return this.#filePos - (this.#end - this.#start);
  }

  /** Bytes buffered and ready for the synchronous readers. */
  get available(): number {
    return this.#end - this.#start;
  }

  /** Bytes that may still be read: up to the end of the file and of the budget. */
  get remaining(): number {
    return this.budget - this.offset;
  }

  /** A `GGUF_INVALID` error naming the file and the offset. */
  invalid(message: string, offset: number = this.offset): LodeError {
    return new LodeError("GGUF_INVALID", `${this.label}: ${message} (at offset ${offset})`, {
      details: { path: this.label, offset },
    });
  }

  /** Throws unless `n` more bytes may be read: the file is long enough and the budget allows it. */
  check(n: number, what: string): void {
    const at = this.offset;
    if (n <= this.remaining) return;
    if (at + n > this.fileSize) {
      throw this.invalid(
        `reading ${what} needs ${n} bytes but the file ends after ${
          this.fileSize - at
        } more (truncated or corrupt)`,
      );
    }
    throw this.invalid(`reading ${what} goes past the header limit of ${this.budget} bytes`);
  }

  /** Makes at least `n` bytes available (reading more of the file), after {@link check}ing them. */
  async ensure(n: number, what = "header"): Promise<void> {
    if (this.available >= n) return;
    this.check(n, what);
    if (n > this.#buf.byteLength) {
      const bigger = new Uint8Array(n);
      bigger.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = bigger;
      this.#view = new DataView(bigger.buffer);
    } else {
      this.#buf.copyWithin(0, this.#start, this.#end);
    }
    this.#end -= this.#start;
    this.#start = 0;
    while (this.#end < n) {
      const want = Math.min(this.#buf.byteLength - this.#end, this.budget - this.#filePos);
      const got = await this.#file.read(this.#buf.subarray(this.#end, this.#end + want));
      if (got === null || got === 0) {
        throw this.invalid(`the file ended early while reading ${what} (was it truncated while being read?)`);
      }
      this.#end += got;
      this.#filePos += got;
    }
  }

  /** Skips `n` bytes (checked), seeking past whatever is not buffered. */
  async skip(n: number, what: string): Promise<void> {
    if (n <= this.available) {
      this.#start += n;
      return;
    }
    this.check(n, what);
    const target = this.offset + n;
    await this.#file.seek(target, Deno.SeekMode.Start);
    this.#start = this.#end = 0;
    this.#filePos = target;
  }

  /** The next u64 as a bigint, not consumed (after `ensure`). */
  peekU64(): bigint {
    return this.#view.getBigUint64(this.#start, true);
  }

  /** Consumes `n` buffered bytes (`n` ≤ {@link available}). */
  advance(n: number): void {
    if (n > this.available) throw new RangeError(`advance(${n}) past the ${this.available} buffered bytes`);
    this.#start += n;
  }

  /** The next byte (after `ensure`). */
  u8(): number {
    return this.#view.getUint8(this.#start++);
  }

  /** The next u32 (after `ensure`). */
  u32(): number {
    const v = this.#view.getUint32(this.#start, true);
    this.#start += 4;
    return v;
  }

  /** The next u64 as a bigint (after `ensure`). */
  u64(): bigint {
    const v = this.#view.getBigUint64(this.#start, true);
    this.#start += 8;
    return v;
  }

  /** A DataView of the next `n` bytes, consumed (after `ensure`; valid until the next `ensure`). */
  view(n: number): DataView {
    const v = new DataView(this.#buf.buffer, this.#start, n);
    this.#start += n;
    return v;
  }

  /** The next `n` bytes decoded as UTF-8 (invalid sequences become U+FFFD; after `ensure`). */
  utf8(n: number): string {
    const s = decoder.decode(this.#buf.subarray(this.#start, this.#start + n));
    this.#start += n;
    return s;
  }
}
