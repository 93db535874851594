/**
 * A vocabulary-only model called through Deno's FFI: the same libllama that
 * node-llama-cpp's addon already loaded into this process, its
 * `llama_tokenize` / `llama_detokenize` called directly with buffers reused
 * from call to call.
 *
 * Why: the daemon answers `tokenize` from a vocabulary in its own process,
 * and through the addon each call copies the text into a `std::string`,
 * tokenizes into a fresh `std::vector`, and returns a fresh `Uint32Array`
 * (memory outside the JavaScript heap, freed later by a GC thread that then
 * contends with the main thread for malloc's lock). Called directly, the text
 * is encoded into a buffer kept from the last call and the ids are read from
 * another, which saves a share of the daemon's CPU per tokenize request
 * (scripts/bench_daemon.ts; docs/benchmarks.md).
 *
 * Why it is safe: the ids are llama.cpp's own, from the very library the
 * addon uses (`tests`: equal to node-llama-cpp's for every kind of text, and
 * the detokenized text of every token). Only `struct llama_model_params` has
 * a layout this file must know; it is the one of llama.cpp release
 * {@link LLAMA_CPP_RELEASE}, checked twice before anything is called: the
 * release named in the build metadata node-llama-cpp keeps beside the
 * library, and the defaults `llama_model_default_params` returns. When
 * either differs, or this is not Linux, or no libllama is loaded yet,
 * {@link openFfiVocabulary} returns null and the caller keeps the addon's
 * way.
 *
 * @example
 * ```ts
 * import { openFfiVocabulary } from "./llama_cpp_ffi_vocabulary.ts";
 * // after node-llama-cpp has loaded its runtime (getLlama)
 * const vocabulary = await openFfiVocabulary("tests/fixtures/stories260K.gguf");
 * vocabulary?.tokenize("Once upon a time"); // the ids node-llama-cpp gives
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { joinPath, parentDir } from "../path.ts";
import type { Vocabulary } from "./backend.ts";
import { checkTokenIds } from "./llama_cpp_vocabulary.ts";

/** The llama.cpp release (as node-llama-cpp names its builds) whose `llama.h` this file follows. */
export const LLAMA_CPP_RELEASE = "v0.4.0";

/**
 * `struct llama_model_params` of {@link LLAMA_CPP_RELEASE}, in order: devices, tensor_buft_overrides,
 * n_gpu_layers, split_mode, load_mode, lazy_mode, main_gpu, tensor_split, progress_callback,
 * progress_callback_user_data, kv_overrides, then six bools: vocab_only, check_tensors, use_extra_bufts,
 * no_host, no_alloc, load_mtp. 80 bytes.
 */
const MODEL_PARAMS = {
  struct: [
    ...["pointer", "pointer", "i32", "i32", "i32", "i32", "i32"],
    ...["pointer", "pointer", "pointer", "pointer", "u8", "u8", "u8", "u8", "u8", "u8"],
  ],
} as const satisfies Deno.NativeStructType;
const N_GPU_LAYERS_OFFSET = 16;
const VOCAB_ONLY_OFFSET = 72;
/** The six bools as `llama_model_default_params` sets them: only use_extra_bufts is true. */
const DEFAULT_BOOLS = [0, 0, 1, 0, 0, 0];

const SYMBOLS = {
  llama_model_default_params: { parameters: [], result: MODEL_PARAMS },
  llama_model_load_from_file: { parameters: ["buffer", MODEL_PARAMS], result: "pointer", nonblocking: true },
  llama_model_free: { parameters: ["pointer"], result: "void" },
  llama_model_get_vocab: { parameters: ["pointer"], result: "pointer" },
  llama_vocab_n_tokens: { parameters: ["pointer"], result: "i32" },
  llama_tokenize: {
    parameters: ["pointer", "buffer", "i32", "buffer", "i32", "bool", "bool"],
    result: "i32",
  },
  llama_detokenize: {
    parameters: ["pointer", "buffer", "i32", "buffer", "i32", "bool", "bool"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

type Llama = Deno.DynamicLibrary<typeof SYMBOLS>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Options of {@link openFfiVocabulary}. */
export interface OpenFfiVocabularyOptions {
  /** The libllama to call. Default: the one mapped into this process (Linux's `/proc/self/maps`). */
  library?: string;
  /** Told why the FFI way is not taken (the caller then uses the addon's). */
  onUnavailable?: (reason: string) => void;
  /** Told once the vocabulary is closed. */
  onClosed?: (vocabulary: Vocabulary) => void;
}

/**
 * The vocabulary of the GGUF at `path`, loaded without weights by the libllama already in this process;
 * null when that way is unavailable (see the module doc; `onUnavailable` says why). Throws
 * `MODEL_LOAD_FAILED` when llama.cpp cannot read the file's vocabulary.
 */
export async function openFfiVocabulary(
  path: string,
  options: OpenFfiVocabularyOptions = {},
): Promise<Vocabulary | null> {
  const unavailable = (reason: string) => {
    options.onUnavailable?.(reason);
    return null;
  };
  const library = options.library ?? await loadedLibllama();
  if (library === null) return unavailable("no libllama is loaded in this process (or this is not Linux)");
  const release = await buildRelease(library);
  if (release !== LLAMA_CPP_RELEASE) {
    return unavailable(`${library} is from llama.cpp ${release ?? "(unknown)"}, not ${LLAMA_CPP_RELEASE}`);
  }
  let lib: Llama;
  try {
    lib = Deno.dlopen(library, SYMBOLS);
  } catch (e) {
    return unavailable(`${library}: ${(e as Error).message}`);
  }
  const params = lib.symbols.llama_model_default_params();
  const view = new DataView(params.buffer, params.byteOffset, params.byteLength);
  const bools = [...params.subarray(VOCAB_ONLY_OFFSET, VOCAB_ONLY_OFFSET + DEFAULT_BOOLS.length)];
  if (view.getInt32(N_GPU_LAYERS_OFFSET, true) !== -1 || bools.some((b, i) => b !== DEFAULT_BOOLS[i])) {
    lib.close();
    return unavailable(
      `${library}: llama_model_default_params does not have the layout of ${LLAMA_CPP_RELEASE}`,
    );
  }
  view.setInt32(N_GPU_LAYERS_OFFSET, 0, true);
  params[VOCAB_ONLY_OFFSET] = 1;
  const model = await lib.symbols.llama_model_load_from_file(encoder.encode(`${path}\0`), params);
  if (model === null) {
    lib.close();
    throw new LodeError("MODEL_LOAD_FAILED", `llama.cpp could not read the vocabulary of ${path}`, {
      details: { path },
    });
  }
  return new FfiVocabulary(lib, model, options.onClosed);
}

/** The path of the libllama mapped into this process, or null (none yet, or no `/proc`). */
async function loadedLibllama(): Promise<string | null> {
  let maps: string;
  try {
    maps = await Deno.readTextFile("/proc/self/maps");
  } catch {
    return null;
  }
  // "address perms offset dev inode path": the path is everything after the fifth field.
  // libllama.so or libllama.v0.4.0.so, not libllama-common.so.
  const match = maps.match(/ (\/[^\n]*\/libllama(?:\.v[0-9.]+)?\.so(?:\.[0-9]+)*)$/m);
  return match?.[1] ?? null;
}

/** The llama.cpp release named in the build metadata node-llama-cpp keeps beside `library`. */
async function buildRelease(library: string): Promise<string | null> {
  const metadata = joinPath(parentDir(library), "_nlcBuildMetadata.json");
  try {
    const parsed = JSON.parse(await Deno.readTextFile(metadata));
    const release = parsed?.buildOptions?.llamaCpp?.release;
    return typeof release === "string" ? release : null;
  } catch {
    return null;
  }
}

/** Buffers up to this size are kept for the next call; a bigger one is used once. */
const KEPT_BYTES = 1 << 20;

class FfiVocabulary implements Vocabulary {
  readonly #lib: Llama;
  readonly #vocab: Deno.PointerValue;
  readonly #size: number;
  readonly #onClosed: ((vocabulary: Vocabulary) => void) | undefined;
  #model: Deno.PointerValue;
  #bytes = new Uint8Array(4096);
  #ids = new Int32Array(1024);

  constructor(
    lib: Llama,
    model: Deno.PointerObject,
    onClosed: ((vocabulary: Vocabulary) => void) | undefined,
  ) {
    this.#lib = lib;
    this.#onClosed = onClosed;
    this.#model = model;
    this.#vocab = lib.symbols.llama_model_get_vocab(model);
    this.#size = lib.symbols.llama_vocab_n_tokens(this.#vocab);
  }

  tokenize(text: string): number[] {
    this.#assertOpen("tokenize");
    if (typeof text !== "string") throw new LodeError("USAGE", "tokenize needs a string");
    if (text === "") return []; // as node-llama-cpp
    const bytes = this.#bytesFor(text.length * 3); // UTF-16 unit → at most 3 UTF-8 bytes
    const { written } = encoder.encodeInto(text, bytes);
    let ids = this.#idsFor(written + 2);
    let n = this.#lib.symbols.llama_tokenize(this.#vocab, bytes, written, ids, ids.length, false, false);
    if (n < 0 && n !== -(2 ** 31)) {
      ids = this.#idsFor(-n);
      n = this.#lib.symbols.llama_tokenize(this.#vocab, bytes, written, ids, ids.length, false, false);
    }
    if (n < 0) throw new LodeError("USAGE", "tokenize: the text is too large to tokenize");
    const tokens = new Array<number>(n);
    for (let i = 0; i < n; i++) tokens[i] = ids[i]!;
    return tokens;
  }

  detokenize(tokens: number[]): string {
    this.#assertOpen("detokenize");
    checkTokenIds(tokens, this.#size);
    if (tokens.length === 0) return "";
    const ids = this.#idsFor(tokens.length);
    ids.set(tokens);
    let text: Uint8Array = this.#bytes; // the kept buffer first; a longer text is told its size, then written again
    let n = this.#detokenizeInto(ids, tokens.length, text);
    if (n < 0) n = this.#detokenizeInto(ids, tokens.length, text = this.#bytesFor(-n));
    return decoder.decode(text.subarray(0, n));
  }

  /** The bytes of `ids`' first `count` ids written into `text`: how many, or minus how many it needs. */
  #detokenizeInto(ids: Int32Array, count: number, text: Uint8Array): number {
    return this.#lib.symbols.llama_detokenize(this.#vocab, ids, count, text, text.length, false, false);
  }

  close(): Promise<void> {
    if (this.#model !== null) {
      this.#lib.symbols.llama_model_free(this.#model);
      this.#model = null;
      this.#lib.close();
      this.#onClosed?.(this);
    }
    return Promise.resolve();
  }

  #bytesFor(n: number): Uint8Array {
    if (n <= this.#bytes.length) return this.#bytes;
    if (n > KEPT_BYTES) return new Uint8Array(n);
    return this.#bytes = new Uint8Array(Math.min(KEPT_BYTES, 2 ** Math.ceil(Math.log2(n))));
  }

  #idsFor(n: number): Int32Array {
    if (n <= this.#ids.length) return this.#ids;
    if (n * 4 > KEPT_BYTES) return new Int32Array(n);
    return this.#ids = new Int32Array(Math.min(KEPT_BYTES / 4, 2 ** Math.ceil(Math.log2(n))));
  }

  #assertOpen(what: string): void {
    if (this.#model === null) {
      throw new LodeError("INFERENCE_FAILED", `${what}() called on a closed vocabulary`);
    }
  }
}
