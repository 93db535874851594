/**
 * ggml tensor types (block size and bytes per block, as ggml's `type_traits`) and llama.cpp file types
 * (`general.file_type`, `LLAMA_FTYPE_*`), so a tensor's byte size and a file's quantization can be
 * named without llama.cpp. Checked against node-llama-cpp's bindings in the test.
 *
 * @example
 * ```ts
 * import { tensorBytes } from "./ggml_types.ts";
 * tensorBytes({ dims: [4096, 4096], type: 12 }); // Q4_K: 9437184
 * ```
 * @module
 */

/** One ggml tensor type: `blockSize` elements take `typeSize` bytes. */
export interface GgmlTypeInfo {
  name: string;
  blockSize: number;
  typeSize: number;
}

const T = (name: string, blockSize: number, typeSize: number): GgmlTypeInfo => ({
  name,
  blockSize,
  typeSize,
});

/**
 * ggml types by code. Codes ggml removed (Q4_2, Q4_3, the Q4_0_N_M and IQ4_NL_N_M repacks) are absent:
 * llama.cpp refuses files that use them.
 * @example
 * ```ts
 * GGML_TYPES.get(12); // { name: "Q4_K", blockSize: 256, typeSize: 144 }
 * ```
 */
export const GGML_TYPES: ReadonlyMap<number, GgmlTypeInfo> = new Map([
  [0, T("F32", 1, 4)],
  [1, T("F16", 1, 2)],
  [2, T("Q4_0", 32, 18)],
  [3, T("Q4_1", 32, 20)],
  [6, T("Q5_0", 32, 22)],
  [7, T("Q5_1", 32, 24)],
  [8, T("Q8_0", 32, 34)],
  [9, T("Q8_1", 32, 36)],
  [10, T("Q2_K", 256, 84)],
  [11, T("Q3_K", 256, 110)],
  [12, T("Q4_K", 256, 144)],
  [13, T("Q5_K", 256, 176)],
  [14, T("Q6_K", 256, 210)],
  [15, T("Q8_K", 256, 292)],
  [16, T("IQ2_XXS", 256, 66)],
  [17, T("IQ2_XS", 256, 74)],
  [18, T("IQ3_XXS", 256, 98)],
  [19, T("IQ1_S", 256, 50)],
  [20, T("IQ4_NL", 32, 18)],
  [21, T("IQ3_S", 256, 110)],
  [22, T("IQ2_S", 256, 82)],
  [23, T("IQ4_XS", 256, 136)],
  [24, T("I8", 1, 1)],
  [25, T("I16", 1, 2)],
  [26, T("I32", 1, 4)],
  [27, T("I64", 1, 8)],
  [28, T("F64", 1, 8)],
  [29, T("IQ1_M", 256, 56)],
  [30, T("BF16", 1, 2)],
  [34, T("TQ1_0", 256, 54)],
  [35, T("TQ2_0", 256, 66)],
  [39, T("MXFP4", 32, 17)],
  [40, T("NVFP4", 64, 36)],
  [41, T("Q1_0", 128, 18)],
  [42, T("Q2_0", 64, 18)],
]);

/**
 * llama.cpp file types (`general.file_type`, `LLAMA_FTYPE_MOSTLY_*` without the prefix), by code.
 * @example
 * ```ts
 * LLAMA_FILE_TYPES.get(15); // "Q4_K_M"
 * ```
 */
export const LLAMA_FILE_TYPES: ReadonlyMap<number, string> = new Map(
  [
    "F32",
    "F16",
    "Q4_0",
    "Q4_1",
    "Q4_1_SOME_F16",
    "Q4_2",
    "Q4_3",
    "Q8_0",
    "Q5_0",
    "Q5_1",
    "Q2_K",
    "Q3_K_S",
    "Q3_K_M",
    "Q3_K_L",
    "Q4_K_S",
    "Q4_K_M",
    "Q5_K_S",
    "Q5_K_M",
    "Q6_K",
    "IQ2_XXS",
    "IQ2_XS",
    "Q2_K_S",
    "IQ3_XS",
    "IQ3_XXS",
    "IQ1_S",
    "IQ4_NL",
    "IQ3_S",
    "IQ3_M",
    "IQ2_S",
    "IQ2_M",
    "IQ4_XS",
    "IQ1_M",
    "BF16",
    "Q4_0_4_4",
    "Q4_0_4_8",
    "Q4_0_8_8",
    "TQ1_0",
    "TQ2_0",
    "MXFP4_MOE",
    "NVFP4",
    "Q1_0",
    "Q2_0",
  ].map((name, code) => [code, name]),
);

/** `LLAMA_FTYPE_GUESSED`: set by llama.cpp when it guessed the file type. */
const FILE_TYPE_GUESSED = 1024;

/**
 * The name of a `general.file_type` code (`Q4_K_M`, `F16`, …), or `undefined` when unknown.
 * @example
 * ```ts
 * fileTypeName(15); // "Q4_K_M"
 * fileTypeName(1024 + 1); // "F16" (the "guessed" flag is ignored)
 * ```
 */
export function fileTypeName(code: number): string | undefined {
  return LLAMA_FILE_TYPES.get(code >= FILE_TYPE_GUESSED ? code - FILE_TYPE_GUESSED : code);
}

/**
 * The name of a ggml type code, or `type N` when unknown.
 * @example
 * ```ts
 * ggmlTypeName(1); // "F16"
 * ```
 */
export function ggmlTypeName(code: number): string {
  return GGML_TYPES.get(code)?.name ?? `type ${code}`;
}

/**
 * The number of elements of a tensor (the product of its dims; 1 for no dims).
 * @example
 * ```ts
 * tensorElements({ dims: [64, 512] }); // 32768
 * ```
 */
export function tensorElements(tensor: { dims: readonly number[] }): number {
  let n = 1;
  for (const d of tensor.dims) n *= d;
  return n;
}

/**
 * The bytes a tensor's data takes (without alignment padding). Throws on an unknown type.
 * @example
 * ```ts
 * tensorBytes({ dims: [64, 512], type: 0 }); // 131072
 * ```
 */
export function tensorBytes(tensor: { dims: readonly number[]; type: number }): number {
  const info = GGML_TYPES.get(tensor.type);
  if (!info) throw new RangeError(`unknown ggml type ${tensor.type}`);
  return (tensorElements(tensor) / info.blockSize) * info.typeSize;
}
