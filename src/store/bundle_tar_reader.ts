/**
 * A streaming tar reader with bounded memory: header blocks go through a small
 * buffer, entry bodies are read straight from the source into the consumer's
 * buffers (a BYOB byte stream), so a multi-GB entry is never held in memory.
 * Works on anything with `read` — a file or stdin. Truncated or malformed
 * archives are `BUNDLE_INVALID`.
 * @module
 */
import { LodeError } from "../errors.ts";
import { BLOCK, decodeTarHeader, isZeroBlock, parsePaxRecords, tarPadding } from "./bundle_tar_header.ts";

/** Something bytes can be read from (`Deno.FsFile`, `Deno.stdin`). */
export interface ByteSource {
  read(p: Uint8Array): Promise<number | null>;
}

/** An entry of the archive (pax `size`/`path` records already applied). */
export interface TarEntry {
  path: string;
  size: number;
  /** `0` regular file, `5` directory, other ustar types as found. */
  type: string;
}

const BUFFER_BYTES = 64 * 1024;
const SKIP_BYTES = 1024 * 1024;
const MAX_PAX_BYTES = 64 * 1024;

/** Reads a tar archive entry by entry from a {@link ByteSource}. */
export class TarReader {
  readonly #src: ByteSource;
  /** The archive's name in messages (a path, or `stdin`). */
  readonly label: string;
  #buf = new Uint8Array(BUFFER_BYTES);
  #start = 0;
  #end = 0;
  /** Bytes consumed from the archive so far. */
  #offset = 0;
  /** Body bytes of the current entry not yet consumed. */
  #remaining = 0;
  #padding = 0;

  /** `label` names the archive in error messages (a path, or `stdin`). */
  constructor(src: ByteSource, label: string) {
    this.#src = src;
    this.label = label;
  }

  /** Bytes consumed from the archive so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Up to `n` bytes from the start of what is left, without consuming them (for sniffing a format). */
  async peek(n: number): Promise<Uint8Array> {
    while (this.#end - this.#start < n) {
      if (!(await this.#fill())) break;
    }
    return this.#buf.slice(this.#start, Math.min(this.#end, this.#start + n));
  }

  /** The next entry, or `null` at the end-of-archive marker. The previous entry's unread body is skipped. */
  async next(): Promise<TarEntry | null> {
    await this.#skip(this.#remaining + this.#padding);
    this.#remaining = 0;
    this.#padding = 0;
    let pax: Map<string, string> | null = null;
    while (true) {
      const at = this.#offset;
      const block = await this.#readExact(BLOCK, "an entry header");
      if (isZeroBlock(block)) return null;
      const header = decodeTarHeader(block);
      if (!header) throw this.invalid(`byte ${at} is not a tar header (bad magic or checksum)`);
      if (header.type === "x" || header.type === "g") {
        if (header.size > MAX_PAX_BYTES) {
          throw this.invalid(`a pax header of ${header.size} bytes at byte ${at}`);
        }
        const data = await this.#readExact(header.size, "a pax header");
        await this.#skip(tarPadding(header.size));
        if (header.type === "g") continue;
        pax = parsePaxRecords(data);
        if (!pax) throw this.invalid(`a malformed pax header at byte ${at}`);
        continue;
      }
      const size = pax?.has("size") ? Number(pax.get("size")) : header.size;
      if (!Number.isSafeInteger(size) || size < 0) throw this.invalid(`a bad size at byte ${at}`);
      const path = pax?.get("path") ?? header.path;
      const hasBody = header.type === "0" || header.type === "7";
      this.#remaining = hasBody ? size : 0;
      this.#padding = hasBody ? tarPadding(size) : 0;
      return { path, size: hasBody ? size : 0, type: header.type };
    }
  }

  /**
   * The current entry's body as a byte stream of exactly its size, read straight into the consumer's
   * buffers when it reads with a BYOB reader. Errors with `BUNDLE_INVALID` when the archive ends early.
   */
  body(): ReadableStream<Uint8Array> {
    return new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: SKIP_BYTES,
      pull: async (controller) => {
        const request = controller.byobRequest!;
        if (this.#remaining === 0) {
          controller.close();
          request.respond(0);
          return;
        }
        const view = request.view!;
        const target = new Uint8Array(
          view.buffer,
          view.byteOffset,
          Math.min(view.byteLength, this.#remaining),
        );
        let n: number;
        if (this.#end > this.#start) {
          n = Math.min(target.length, this.#end - this.#start);
          target.set(this.#buf.subarray(this.#start, this.#start + n));
          this.#start += n;
        } else {
          const got = await this.#src.read(target);
          if (got === null) {
            controller.error(this.truncated("an entry's bytes"));
            return;
          }
          n = got;
        }
        this.#offset += n;
        this.#remaining -= n;
        request.respond(n);
      },
    });
  }

  /** The whole body of the current entry; `BUNDLE_INVALID` when it is larger than `maxBytes`. */
  async bodyBytes(maxBytes: number): Promise<Uint8Array> {
    if (this.#remaining > maxBytes) {
      throw this.invalid(`an entry of ${this.#remaining} bytes where at most ${maxBytes} are expected`);
    }
    const bytes = await this.#readExact(this.#remaining, "an entry's bytes");
    this.#remaining = 0;
    return bytes;
  }

  /** A `BUNDLE_INVALID` error about this archive. */
  invalid(problem: string, hint?: string): LodeError {
    return new LodeError("BUNDLE_INVALID", `${this.label} is not a valid lode bundle: ${problem}`, {
      details: { bundle: this.label, offset: this.#offset },
      hint,
    });
  }

  truncated(what: string): LodeError {
    return this.invalid(
      `it ends at byte ${this.#offset}, in the middle of ${what} (truncated)`,
      "The bundle was cut short (an interrupted copy?). Copy or export it again.",
    );
  }

  /** Reads more bytes into the buffer; false at the end of the source. */
  async #fill(): Promise<boolean> {
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
    }
    const n = await this.#src.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  async #readExact(n: number, what: string): Promise<Uint8Array> {
    while (this.#end - this.#start < n) {
      if (!(await this.#fill())) throw this.truncated(what);
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    this.#offset += n;
    if (this.#start === this.#end && this.#buf.length > BUFFER_BYTES) this.#shrink();
    return out;
  }

  #shrink(): void {
    this.#buf = new Uint8Array(BUFFER_BYTES);
    this.#start = this.#end = 0;
  }

  async #skip(n: number): Promise<void> {
    let left = n;
    const buffered = Math.min(left, this.#end - this.#start);
    this.#start += buffered;
    this.#offset += buffered;
    left -= buffered;
    const scratch = left > 0 ? new Uint8Array(Math.min(left, SKIP_BYTES)) : null;
    while (left > 0) {
      const got = await this.#src.read(scratch!.subarray(0, Math.min(left, scratch!.length)));
      if (got === null) throw this.truncated("an entry's bytes");
      left -= got;
      this.#offset += got;
    }
  }
}
