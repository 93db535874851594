/**
 * Llama hyper-parameter selection for synthetic models: given a parameter budget, pick a plausible
 * (n_embd, n_layer, n_head, n_head_kv, n_ff) whose exact parameter count lands close to it.
 * Pure functions, no I/O.
 * @module
 */

/** The hyper-parameters of a llama model, as written to the `llama.*` GGUF keys. */
export interface LlamaShape {
  nVocab: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  contextLength: number;
}

/** One tensor of a llama model: name, dims in ggml order (ne0 first), and whether it is a 1-D norm. */
export interface LlamaTensorSpec {
  name: string;
  dims: number[];
  isNorm: boolean;
}

/** Options for {@link chooseLlamaShape}. */
export interface ChooseShapeOptions {
  /** Vocabulary size (default 512, the stories260K tokenizer). */
  nVocab?: number;
  /** `llama.context_length` (default 2048). */
  contextLength?: number;
}

/**
 * Lists the tensors of a llama model in the order llama.cpp's converter writes them.
 * @example
 * ```ts
 * const specs = llamaTensors({ nVocab: 512, nEmbd: 64, nLayer: 1, nHead: 4, nHeadKv: 1, nFf: 176, contextLength: 2048 });
 * console.log(specs.map((t) => t.name)); // token_embd.weight, output_norm.weight, output.weight, blk.0.…
 * ```
 */
export function llamaTensors(shape: LlamaShape): LlamaTensorSpec[] {
  const { nVocab: v, nEmbd: e, nFf: ff } = shape;
  const kv = headDim(shape) * shape.nHeadKv;
  const out: LlamaTensorSpec[] = [
    { name: "token_embd.weight", dims: [e, v], isNorm: false },
    { name: "output_norm.weight", dims: [e], isNorm: true },
    { name: "output.weight", dims: [e, v], isNorm: false },
  ];
  for (let i = 0; i < shape.nLayer; i++) {
    const p = `blk.${i}.`;
    out.push(
      { name: p + "attn_q.weight", dims: [e, e], isNorm: false },
      { name: p + "attn_k.weight", dims: [e, kv], isNorm: false },
      { name: p + "attn_v.weight", dims: [e, kv], isNorm: false },
      { name: p + "attn_output.weight", dims: [e, e], isNorm: false },
      { name: p + "attn_norm.weight", dims: [e], isNorm: true },
      { name: p + "ffn_gate.weight", dims: [e, ff], isNorm: false },
      { name: p + "ffn_down.weight", dims: [ff, e], isNorm: false },
      { name: p + "ffn_up.weight", dims: [e, ff], isNorm: false },
      { name: p + "ffn_norm.weight", dims: [e], isNorm: true },
    );
  }
  return out;
}

/**
 * The per-head dimension (`llama.rope.dimension_count`).
 * @example
 * ```ts
 * headDim({ nVocab: 512, nEmbd: 768, nLayer: 12, nHead: 12, nHeadKv: 3, nFf: 2048, contextLength: 2048 }); // 64
 * ```
 */
export function headDim(shape: LlamaShape): number {
  return shape.nEmbd / shape.nHead;
}

/**
 * The exact parameter count of a llama model with this shape (untied output, as {@link llamaTensors}).
 * @example
 * ```ts
 * llamaParamCount({ nVocab: 512, nEmbd: 64, nLayer: 5, nHead: 8, nHeadKv: 4, nFf: 172, contextLength: 2048 });
 * // 292800 (the stories260K shape)
 * ```
 */
export function llamaParamCount(shape: LlamaShape): number {
  const { nVocab: v, nEmbd: e, nLayer: l, nFf: ff } = shape;
  const kv = headDim(shape) * shape.nHeadKv;
  return 2 * v * e + e + l * (2 * e * e + 2 * e * kv + 3 * e * ff + 2 * e);
}

const FF_STEP = 16;
const FF_RATIO_MIN = 1.5;
const FF_RATIO_MAX = 4.5;
const FF_RATIO_IDEAL = 8 / 3;

function headsFor(nEmbd: number): { nHead: number; nHeadKv: number } | undefined {
  const hd = nEmbd >= 512 ? 64 : nEmbd >= 128 ? 32 : 16;
  if (nEmbd % hd !== 0) return undefined;
  const nHead = nEmbd / hd;
  return { nHead, nHeadKv: nHead >= 4 && nHead % 4 === 0 ? nHead / 4 : nHead };
}

/**
 * Chooses a llama shape whose parameter count is as close as practical to `targetParams`, preferring
 * realistic proportions (about one layer per 64 embedding dims, n_ff ≈ 8/3·n_embd, GQA 4:1 when the head
 * count allows). Throws if the target is below the smallest model it can build.
 * @example
 * ```ts
 * const s = chooseLlamaShape(100_000_000);
 * console.log(s.nEmbd, s.nLayer, llamaParamCount(s)); // ≈ 100M
 * ```
 */
export function chooseLlamaShape(targetParams: number, options: ChooseShapeOptions = {}): LlamaShape {
  const nVocab = options.nVocab ?? 512;
  const contextLength = options.contextLength ?? 2048;
  if (!(targetParams > 0) || !Number.isFinite(targetParams)) {
    throw new Error(`target parameter count must be a positive number, got ${targetParams}`);
  }
  let best: { shape: LlamaShape; score: number; err: number } | undefined;
  for (let nEmbd = 32; nEmbd <= 16384; nEmbd += 32) {
    const heads = headsFor(nEmbd);
    if (!heads) continue;
    const { nHead, nHeadKv } = heads;
    const kv = (nEmbd / nHead) * nHeadKv;
    const fixed = 2 * nVocab * nEmbd + nEmbd;
    if (fixed > targetParams) break;
    const perLayerNoFf = 2 * nEmbd * nEmbd + 2 * nEmbd * kv + 2 * nEmbd;
    for (let nLayer = 1; nLayer <= 256; nLayer++) {
      const ffExact = (targetParams - fixed - nLayer * perLayerNoFf) / (3 * nEmbd * nLayer);
      const lo = Math.ceil((FF_RATIO_MIN * nEmbd) / FF_STEP) * FF_STEP;
      const hi = Math.floor((FF_RATIO_MAX * nEmbd) / FF_STEP) * FF_STEP;
      if (ffExact < lo - FF_STEP) break; // more layers only makes it worse
      const nFf = Math.min(hi, Math.max(lo, Math.round(ffExact / FF_STEP) * FF_STEP));
      const shape = { nVocab, nEmbd, nLayer, nHead, nHeadKv, nFf, contextLength };
      const err = Math.abs(llamaParamCount(shape) - targetParams) / targetParams;
      const score = 200 * err + Math.abs(Math.log(nLayer / Math.max(1, nEmbd / 64))) +
        Math.abs(Math.log(nFf / nEmbd / FF_RATIO_IDEAL));
      if (!best || score < best.score) best = { shape, score, err };
    }
  }
  if (!best || best.err > 0.05) {
    throw new Error(`cannot build a llama model of about ${targetParams} parameters (too small)`);
  }
  return best.shape;
}
