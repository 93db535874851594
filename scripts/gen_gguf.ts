/**
 * Synthetic model generator: writes a valid GGUF v3 llama model of a chosen size (or parameter count)
 * with deterministic pseudo-random weights and the real 512-token SentencePiece tokenizer copied from
 * tests/fixtures/stories260K.gguf, so tests and benchmarks can make models of any size without
 * committing them. llama.cpp / node-llama-cpp load the result; its text is junk, by design.
 *
 * ```sh
 * deno run -A scripts/gen_gguf.ts --out /tmp/m.gguf --size 1GiB [--seed N] [--tensor-type f32|f16]
 * deno run -A scripts/gen_gguf.ts --out /tmp/m.gguf --params 100M
 * deno run -A scripts/gen_gguf.ts --out /tmp/chat.gguf --size 2MiB --chat-template chatml   # or FILE (Jinja)
 * ```
 * Prints one JSON line: {path, sizeBytes, sha256, params, tensorType, seed, shape, seconds}.
 * @module
 */
import { ModelFileWriter } from "./model_file_writer.ts";
import { parseArgs } from "node:util";
import { alignUp, GGUF_TYPE, type GgufTensorInfo, type GgufValue, readGgufHeader } from "../src/gguf/mod.ts";
import { encodeGgufHeader, GGML_TYPE } from "./gguf_header.ts";
import { chooseLlamaShape, headDim, llamaParamCount, type LlamaShape, llamaTensors } from "./llama_shape.ts";

/** Element type of the 2-D weight tensors (norm vectors are always f32). */
export type TensorType = "f32" | "f16";

/** Options for {@link writeGgufModel}: give `sizeBytes` or `params`. */
export interface GgufModelOptions {
  /** Target file size in bytes; the result lands within a fraction of a percent for sizes ≥ 1 MiB. */
  sizeBytes?: number;
  /** Target parameter count (used instead of `sizeBytes`). */
  params?: number;
  /** PRNG seed for the weights (default 1). Same options and seed → byte-identical file. */
  seed?: number;
  /** Weight element type (default "f16"). */
  tensorType?: TensorType;
  /** GGUF file whose `tokenizer.*` keys are copied (default tests/fixtures/stories260K.gguf). */
  tokenizerFrom?: string | URL;
  /** `llama.context_length` (default 2048). */
  contextLength?: number;
  /**
   * Jinja chat template written as `tokenizer.chat_template` (e.g. {@link CHATML_TEMPLATE}). Default: none
   * (and none is copied from `tokenizerFrom`, so the model has a template only when asked for).
   */
  chatTemplate?: string;
}

/**
 * The ChatML chat template (as Qwen and many others ship it): `<|im_start|>role\ncontent<|im_end|>\n` per
 * message, then `<|im_start|>assistant\n` when a generation prompt is asked for.
 * @example
 * ```ts
 * await writeGgufModel("/tmp/chat.gguf", { sizeBytes: 1024 * 1024, chatTemplate: CHATML_TEMPLATE });
 * ```
 */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** What {@link writeGgufModel} wrote. */
export interface GgufModelResult {
  path: string;
  sizeBytes: number;
  sha256: string;
  params: number;
  tensorType: TensorType;
  seed: number;
  shape: LlamaShape;
}

const ALIGNMENT = 32;
/** Random pool: 4 MiB plus a few words, so its period never lines up with power-of-two ranges. */
const POOL_WORDS = 1024 * 1024 + 3;
const WEIGHT_SCALE = 0.02 * Math.sqrt(3); // uniform(-a, a) with standard deviation 0.02
const NO_TOKEN = 0xffffffff;
const DEFAULT_TOKENIZER = new URL("../tests/fixtures/stories260K.gguf", import.meta.url);

/**
 * A tiny deterministic PRNG (mulberry32) returning unsigned 32-bit integers (divide by 2^32 for [0, 1)).
 * @example
 * ```ts
 * const next = prng(7);
 * const coin = next() / 0x1_0000_0000 < 0.5;
 * ```
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A block of random weights in the target encoding, as 32-bit words. */
function makePool(seed: number, type: TensorType): Uint32Array {
  const next = prng(seed ^ 0x9e3779b9);
  const uniform = () => ((next() / 0x1_0000_0000) * 2 - 1) * WEIGHT_SCALE;
  const words = new Uint32Array(POOL_WORDS);
  if (type === "f32") {
    const f = new Float32Array(words.buffer);
    for (let i = 0; i < f.length; i++) f[i] = uniform();
  } else {
    const h = new Float16Array(words.buffer);
    for (let i = 0; i < h.length; i++) h[i] = uniform();
  }
  return words;
}

/** Bits a perturbation may flip: low mantissa bits only, so sign/exponent (and magnitude) stay sane. */
const PERTURB_MASK: Record<TensorType, number> = { f32: 0x0000ffff, f16: 0x00ff00ff };

interface Layout {
  shape: LlamaShape;
  header: Uint8Array;
  tensors: (GgufTensorInfo & { bytes: number; isNorm: boolean })[];
  sizeBytes: number;
}

function layout(shape: LlamaShape, type: TensorType, tokenizer: Map<string, GgufValue>): Layout {
  const u32 = (value: number): GgufValue => ({ type: GGUF_TYPE.UINT32, value });
  const kv = new Map<string, GgufValue>([
    ["general.architecture", { type: GGUF_TYPE.STRING, value: "llama" }],
    ["general.name", { type: GGUF_TYPE.STRING, value: "lode-synthetic-llama" }],
    ["general.alignment", u32(ALIGNMENT)],
    ["general.file_type", u32(type === "f32" ? 0 : 1)],
    ["llama.context_length", u32(shape.contextLength)],
    ["llama.embedding_length", u32(shape.nEmbd)],
    ["llama.feed_forward_length", u32(shape.nFf)],
    ["llama.attention.head_count", u32(shape.nHead)],
    ["llama.attention.head_count_kv", u32(shape.nHeadKv)],
    ["llama.block_count", u32(shape.nLayer)],
    ["llama.rope.dimension_count", u32(headDim(shape))],
    ["llama.attention.layer_norm_rms_epsilon", { type: GGUF_TYPE.FLOAT32, value: 1e-5 }],
    ...tokenizer,
  ]);
  let offset = 0;
  const tensors = llamaTensors(shape).map((t) => {
    const elems = t.dims.reduce((a, b) => a * b, 1);
    const bytes = elems * (t.isNorm || type === "f32" ? 4 : 2);
    if (bytes % 4 !== 0) throw new Error(`tensor ${t.name} has an odd byte size ${bytes}`);
    const info = {
      name: t.name,
      dims: t.dims,
      type: t.isNorm || type === "f32" ? GGML_TYPE.F32 : GGML_TYPE.F16,
      offset,
      bytes,
      isNorm: t.isNorm,
    };
    offset = alignUp(offset + bytes, ALIGNMENT);
    return info;
  });
  const header = encodeGgufHeader(kv, tensors);
  return { shape, header, tensors, sizeBytes: header.byteLength + offset };
}

/** Chooses the shape and builds the header; iterates so the file size (header included) hits the target. */
function plan(options: GgufModelOptions, type: TensorType, tokenizer: Map<string, GgufValue>): Layout {
  const nVocab = tokenizer.get("tokenizer.ggml.tokens")?.value;
  const shapeOpts = {
    nVocab: Array.isArray(nVocab) ? nVocab.length : 512,
    contextLength: options.contextLength ?? 2048,
  };
  const bpp = type === "f32" ? 4 : 2;
  if (options.params !== undefined) {
    return layout(chooseLlamaShape(options.params, shapeOpts), type, tokenizer);
  }
  const size = options.sizeBytes;
  if (size === undefined || !(size > 0)) throw new Error("give sizeBytes or params");
  let target = size / bpp;
  let best: Layout | undefined;
  for (let i = 0; i < 4; i++) {
    const l = layout(chooseLlamaShape(Math.max(1, target), shapeOpts), type, tokenizer);
    if (!best || Math.abs(l.sizeBytes - size) < Math.abs(best.sizeBytes - size)) best = l;
    if (Math.abs(l.sizeBytes - size) / size < 0.001) break;
    target += (size - l.sizeBytes) / bpp;
  }
  return best!;
}

/**
 * Writes a random-weight llama GGUF v3 model to `path` (via `path.partial`, renamed when complete) and
 * returns its size, SHA-256 and shape. A 1 GiB file takes a few seconds.
 * @example
 * ```ts
 * const r = await writeGgufModel("/tmp/tiny.gguf", { sizeBytes: 2 * 1024 * 1024, seed: 7 });
 * console.log(r.sizeBytes, r.sha256, r.shape.nEmbd);
 * ```
 */
export async function writeGgufModel(path: string, options: GgufModelOptions): Promise<GgufModelResult> {
  const type = options.tensorType ?? "f16";
  if (type !== "f32" && type !== "f16") throw new Error(`tensor type must be f32 or f16, got ${type}`);
  const seed = (options.seed ?? 1) >>> 0;
  // Keep every array: the tokenizer is copied item by item.
  const source = await readGgufHeader(options.tokenizerFrom ?? DEFAULT_TOKENIZER, {
    limits: { keepArrayItems: Infinity, maxKeptArrayItems: Infinity },
  });
  // Copy tokenizer.* as is, except special-token ids of 0xFFFFFFFF ("none"), which llama.cpp warns about.
  const tokenizer = new Map(
    [...source.metadata].filter(([k, v]) =>
      k.startsWith("tokenizer.") && k !== "tokenizer.chat_template" && v.value !== NO_TOKEN
    ),
  );
  if (options.chatTemplate !== undefined) {
    tokenizer.set("tokenizer.chat_template", { type: GGUF_TYPE.STRING, value: options.chatTemplate });
  }
  if (!tokenizer.has("tokenizer.ggml.tokens")) {
    throw new Error("tokenizer source has no tokenizer.ggml.tokens");
  }
  const l = plan(options, type, tokenizer);

  const pool = makePool(seed, type);
  const mask = PERTURB_MASK[type];
  const one = new Float32Array([1]);
  const oneWord = new Uint32Array(one.buffer)[0]!;
  const tmp = `${path}.partial`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  const w = new ModelFileWriter(file);
  try {
    await w.bytes(l.header);
    for (const [index, t] of l.tensors.entries()) {
      if (w.written + w.pos !== l.header.byteLength + t.offset) throw new Error("layout mismatch");
      if (t.isNorm) {
        await w.generate(t.bytes, (words, at, count) => words.fill(oneWord, at, at + count));
      } else {
        const next = prng(Math.imul(seed, 0x01000193) ^ Math.imul(index + 1, 0x9e3779b1));
        let p = next() % POOL_WORDS;
        await w.generate(t.bytes, (words, at, count) => {
          while (count > 0) {
            const n = Math.min(count, POOL_WORDS - p);
            words.set(pool.subarray(p, p + n), at);
            const m = next() & mask;
            for (let i = at, end = at + n; i < end; i++) words[i]! ^= m;
            p = (p + n) % POOL_WORDS;
            at += n;
            count -= n;
          }
        });
      }
      const pad = alignUp(t.bytes, ALIGNMENT) - t.bytes;
      if (pad > 0) await w.bytes(new Uint8Array(pad));
    }
    await w.close();
  } catch (e) {
    await w.settle();
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  file.close();
  if (w.written !== l.sizeBytes) throw new Error(`wrote ${w.written} bytes, planned ${l.sizeBytes}`);
  await Deno.rename(tmp, path);
  return {
    path,
    sizeBytes: l.sizeBytes,
    sha256: w.digest(),
    params: llamaParamCount(l.shape),
    tensorType: type,
    seed,
    shape: l.shape,
  };
}

/** Size units: bare K/M/G/T and KiB… are binary, KB… decimal. */
const UNITS = new Map<string, number>([["", 1], ["b", 1]]);
for (const [i, p] of ["k", "m", "g", "t"].entries()) {
  UNITS.set(p, 1024 ** (i + 1)).set(`${p}ib`, 1024 ** (i + 1)).set(`${p}b`, 1000 ** (i + 1));
}

/**
 * Parses a byte size: a plain number of bytes, or a number with a unit (KiB/MiB/GiB/TiB binary,
 * KB/MB/GB/TB decimal, bare K/M/G/T binary). Case-insensitive.
 * @example
 * ```ts
 * parseSize("512KiB"); // 524288
 * parseSize("1GiB"); // 1073741824
 * ```
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS.get(m[2]!.toLowerCase()) : undefined;
  if (!m || unit === undefined) throw new Error(`bad size "${text}" (try 512KiB, 64MiB, 1GiB or bytes)`);
  return Math.round(Number(m[1]) * unit);
}

/**
 * Parses a parameter count: a plain number or one with a K/M/B (or G) suffix, decimal.
 * @example
 * ```ts
 * parseCount("100M"); // 100000000
 * parseCount("1.5B"); // 1500000000
 * ```
 */
export function parseCount(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmbg]?)\s*$/i.exec(text);
  if (!m) throw new Error(`bad parameter count "${text}" (try 260K, 100M, 1B)`);
  const mult = { "": 1, k: 1e3, m: 1e6, b: 1e9, g: 1e9 }[m[2]!.toLowerCase()] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

/** Where {@link main} prints: stdout lines and stderr lines. */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * CLI entry point: parses flags, writes the model, prints one JSON line. Returns the process exit code
 * (0 ok, 2 usage error); other failures throw.
 * @example
 * ```ts
 * const code = await main(["--out", "/tmp/m.gguf", "--size", "2MiB"]);
 * ```
 */
export async function main(
  args: string[],
  io: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) },
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      out: { type: "string" },
      size: { type: "string" },
      params: { type: "string" },
      seed: { type: "string" },
      "tensor-type": { type: "string" },
      "chat-template": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const usage =
    "usage: gen_gguf.ts --out FILE (--size 1GiB | --params 100M) [--seed N] [--tensor-type f32|f16]" +
    " [--chat-template chatml|FILE]";
  if (values.help) {
    io.out(usage);
    return 0;
  }
  if (!values.out || (values.size === undefined) === (values.params === undefined)) {
    io.err(usage);
    return 2;
  }
  const tensorType = values["tensor-type"] ?? "f16";
  if (tensorType !== "f32" && tensorType !== "f16") {
    io.err(`--tensor-type must be f32 or f16\n${usage}`);
    return 2;
  }
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed)) {
    io.err(`--seed must be an integer\n${usage}`);
    return 2;
  }
  const template = values["chat-template"];
  const chatTemplate = template === undefined
    ? undefined
    : template === "chatml"
    ? CHATML_TEMPLATE
    : await Deno.readTextFile(template);
  const started = performance.now();
  const r = await writeGgufModel(values.out, {
    sizeBytes: values.size === undefined ? undefined : parseSize(values.size),
    params: values.params === undefined ? undefined : parseCount(values.params),
    seed,
    tensorType,
    chatTemplate,
  });
  io.out(JSON.stringify({ ...r, seconds: Math.round(performance.now() - started) / 1000 }));
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main(Deno.args);
  } catch (e) {
    console.error(`gen_gguf: ${e instanceof Error ? e.message : e}`);
    Deno.exitCode = 1;
  }
}
