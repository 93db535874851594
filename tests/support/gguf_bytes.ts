/**
 * Hand-built GGUF bytes for tests of the header reader: every field written explicitly, so a test can
 * put any value (a hostile count, a wrong type, a misplaced offset) anywhere.
 *
 * @example
 * ```ts
 * const w = new GgufBytes().magic().u32(3).u64(0).u64(1).kvU32("general.alignment", 32);
 * await Deno.writeFile("/tmp/x.gguf", w.pad(32).bytes());
 * ```
 * @module
 */

const encoder = new TextEncoder();

/** A growable little-endian writer of GGUF fields. */
export class GgufBytes {
  #buf = new Uint8Array(1024);
  #view = new DataView(this.#buf.buffer);
  length = 0;

  #room(n: number): number {
    if (this.length + n > this.#buf.byteLength) {
      const next = new Uint8Array(Math.max(this.#buf.byteLength * 2, this.length + n));
      next.set(this.#buf.subarray(0, this.length));
      this.#buf = next;
      this.#view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  /** "GGUF", or any 4 bytes. */
  magic(text = "GGUF"): this {
    const at = this.#room(4);
    this.#buf.set(encoder.encode(text).subarray(0, 4), at);
    return this;
  }
  u8(n: number): this {
    const at = this.#room(1);
    this.#view.setUint8(at, n);
    return this;
  }
  u32(n: number): this {
    const at = this.#room(4);
    this.#view.setUint32(at, n, true);
    return this;
  }
  f32(n: number): this {
    const at = this.#room(4);
    this.#view.setFloat32(at, n, true);
    return this;
  }
  u64(n: number | bigint): this {
    const at = this.#room(8);
    this.#view.setBigUint64(at, BigInt(n), true);
    return this;
  }
  raw(bytes: Uint8Array): this {
    const at = this.#room(bytes.byteLength);
    this.#buf.set(bytes, at);
    return this;
  }
  /** A GGUF string: u64 byte length, then UTF-8 bytes. */
  str(s: string): this {
    const b = encoder.encode(s);
    return this.u64(b.byteLength).raw(b);
  }
  /** magic, version, tensor count, kv count. */
  head(tensors: number | bigint, kvs: number | bigint, version = 3): this {
    return this.magic().u32(version).u64(tensors).u64(kvs);
  }
  kvU32(key: string, v: number): this {
    return this.str(key).u32(4).u32(v);
  }
  kvStr(key: string, v: string): this {
    return this.str(key).u32(8).str(v);
  }
  /** An array of strings. */
  kvStrings(key: string, items: string[]): this {
    this.str(key).u32(9).u32(8).u64(items.length);
    for (const s of items) this.str(s);
    return this;
  }
  /** A tensor info. */
  tensor(name: string, dims: (number | bigint)[], type: number, offset: number | bigint): this {
    this.str(name).u32(dims.length);
    for (const d of dims) this.u64(d);
    return this.u32(type).u64(offset);
  }
  /** Zeros up to a multiple of `alignment`. */
  pad(alignment: number): this {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.#room(n);
    return this;
  }
  zeros(n: number): this {
    this.#room(n);
    return this;
  }
  bytes(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

/**
 * A small valid GGUF v3 llama-ish file: a few keys (one string array), two F32 tensors and their data.
 * @example
 * ```ts
 * await Deno.writeFile("/tmp/ok.gguf", sampleGguf());
 * ```
 */
export function sampleGguf(options: { tokens?: string[]; chatTemplate?: string } = {}): Uint8Array {
  const tokens = options.tokens ?? ["<unk>", "<s>", "</s>", "a", "b"];
  const kvs = 7 + (options.chatTemplate === undefined ? 0 : 1);
  const w = new GgufBytes().head(2, kvs)
    .kvStr("general.architecture", "llama")
    .kvU32("general.alignment", 32)
    .kvU32("llama.context_length", 128)
    .kvU32("llama.embedding_length", 8)
    .kvU32("llama.block_count", 1)
    .kvU32("llama.attention.head_count", 2)
    .kvStrings("tokenizer.ggml.tokens", tokens);
  if (options.chatTemplate !== undefined) w.kvStr("tokenizer.chat_template", options.chatTemplate);
  w.tensor("token_embd.weight", [8, tokens.length], 0, 0)
    .tensor("output_norm.weight", [8], 0, Math.ceil((8 * tokens.length * 4) / 32) * 32)
    .pad(32);
  const dataBytes = Math.ceil((8 * tokens.length * 4) / 32) * 32 + 8 * 4;
  return w.zeros(dataBytes).bytes();
}

/**
 * A well-formed GGUF v3 file whose one tensor (`data`, ggml type I8, one row) holds `payload`: any bytes
 * become a file lode's header reader accepts, so tests that need distinct or patterned "models" (sizes,
 * resumes, mismatches) keep their bytes and still pass the store's model check. The header takes 128 bytes:
 * the result is `payload.length + 128` bytes long.
 * @example
 * ```ts
 * const model = ggufWith(new Uint8Array(300_000).map((_, i) => i % 251));
 * model.length; // 300128
 * ```
 */
export function ggufWith(payload: Uint8Array): Uint8Array {
  const w = new GgufBytes().head(1, 1).kvStr("general.architecture", "llama")
    .tensor("data", [payload.length], 24, 0)
    .pad(32);
  return w.raw(payload).bytes();
}
