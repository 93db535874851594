/**
 * The order in which a context of several sequences hands a decode's tokens to llama.cpp: by sequence id.
 *
 * A context with several sequences keeps one KV stream per sequence, and llama.cpp splits each decode into
 * micro-batches that take the same number of tokens from each of a run of sequences whose ids follow one
 * another in the batch's order (`split_equal(…, sequential)` in llama-batch.cpp); each micro-batch is one pass
 * over the weights. node-llama-cpp adds the queued evaluations in the order the sequences queued them, which
 * after the first token is the order their previous step happened to finish: 48 sequences decoding together
 * then ran as many small micro-batches, most of batching's gain lost. Sorted by sequence id, the busy
 * sequences form as few runs as there are gaps between them.
 *
 * node-llama-cpp gives a prioritization strategy the items without their sequences; their ids are read from
 * the context's queue of evaluations (`_queuedDecodes`, whose `tokens` are the items' `tokens`), an internal
 * of the pinned node-llama-cpp version. Items whose sequence cannot be found keep their order, after the
 * others, and are counted ({@link SequenceOrder.unmatched}) so a test notices an upgrade that moved it.
 *
 * @example
 * ```ts
 * import { createSequenceOrder } from "./llama_cpp_batch_order.ts";
 * const order = createSequenceOrder();
 * // model.createContext({ sequences: 8, batching: { itemPrioritizationStrategy: order.strategy } })
 * // then: order.attach(context)
 * console.log(order.unmatched); // 0
 * ```
 * @module
 */
import type * as NodeLlamaCpp from "node-llama-cpp";

/** A batch item and the share of its tokens that goes into this decode. */
type Prioritized = NodeLlamaCpp.PrioritizedBatchItem;

/** A prioritization strategy that orders a decode's items by sequence id, and what it could not order. */
export interface SequenceOrder {
  /** Given to `createContext({ batching: { itemPrioritizationStrategy } })`. */
  readonly strategy: NodeLlamaCpp.CustomBatchingPrioritizationStrategy;
  /** The context whose queue names the items' sequences; until attached, items keep their order. */
  attach(context: NodeLlamaCpp.LlamaContext): void;
  /** Items, over every decode since {@link attach}, ordered or not. */
  readonly seen: number;
  /** Of those, the items whose sequence was not found in the context's queue. */
  readonly unmatched: number;
}

/** Creates a {@link SequenceOrder}; attach it to the context created with its strategy. */
export function createSequenceOrder(): SequenceOrder {
  let context: NodeLlamaCpp.LlamaContext | undefined;
  let seen = 0;
  let unmatched = 0;
  return {
    strategy: ({ items, size }) => {
      const ids = context === undefined ? undefined : queuedSequenceIds(context);
      if (context !== undefined) {
        seen += items.length;
        unmatched += items.filter((item) => !ids?.has(item.tokens)).length;
      }
      const ordered = ids === undefined ? [...items] : sortedBySequence(items, ids);
      return shares(ordered, size);
    },
    attach(c) {
      context = c;
    },
    get seen() {
      return seen;
    },
    get unmatched() {
      return unmatched;
    },
  };
}

/**
 * `items` by sequence id (a stable sort; items of unknown sequence after the others, in their order).
 *
 * @example
 * ```ts
 * import type { BatchItem } from "node-llama-cpp";
 * import { sortedBySequence } from "./llama_cpp_batch_order.ts";
 * declare const a: BatchItem, b: BatchItem;
 * console.log(sortedBySequence([a, b], new Map([[a.tokens, 3], [b.tokens, 1]]))); // [b, a]
 * ```
 */
export function sortedBySequence(
  items: readonly NodeLlamaCpp.BatchItem[],
  ids: ReadonlyMap<unknown, number>,
): NodeLlamaCpp.BatchItem[] {
  const key = (item: NodeLlamaCpp.BatchItem) => ids.get(item.tokens) ?? Number.MAX_SAFE_INTEGER;
  return [...items].sort((a, b) => key(a) - key(b));
}

/**
 * How many of each item's tokens go into a decode of `size` tokens: each item an equal share (at least one
 * token while there is room), then what is left to the items, in order, that have more. Every sequence
 * advances in every decode, as node-llama-cpp's `maximumParallelism` strategy does.
 *
 * @example
 * ```ts
 * import type { BatchItem } from "node-llama-cpp";
 * import { shares } from "./llama_cpp_batch_order.ts";
 * declare const sixTokens: BatchItem, oneToken: BatchItem;
 * console.log(shares([sixTokens, oneToken], 4).map((p) => p.processAmount)); // [3, 1]
 * ```
 */
export function shares(items: readonly NodeLlamaCpp.BatchItem[], size: number): Prioritized[] {
  const even = Math.max(1, Math.floor(size / Math.max(1, items.length)));
  let room = size;
  const out: Prioritized[] = [];
  for (const item of items) {
    if (room === 0) break;
    const amount = Math.min(item.tokens.length, even, room);
    out.push({ item, processAmount: amount });
    room -= amount;
  }
  for (const p of out) {
    if (room === 0) break;
    const more = Math.min(p.item.tokens.length - p.processAmount, room);
    p.processAmount += more;
    room -= more;
  }
  return out;
}

/** The context's queued evaluations' tokens → sequence id, or undefined when the queue is not where expected. */
function queuedSequenceIds(context: NodeLlamaCpp.LlamaContext): Map<unknown, number> | undefined {
  const queue = (context as unknown as { _queuedDecodes?: unknown })._queuedDecodes;
  if (!Array.isArray(queue)) return undefined;
  const ids = new Map<unknown, number>();
  for (const queued of queue as { tokens?: unknown; sequenceId?: unknown }[]) {
    if (typeof queued?.sequenceId === "number") ids.set(queued.tokens, queued.sequenceId);
  }
  return ids;
}
