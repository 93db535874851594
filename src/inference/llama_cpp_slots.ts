/**
 * The sequences of a llama.cpp context, one generation on each at a time: a {@link Slot} is one sequence
 * with its text completion and (made on first use) its chat and tool-forcing wrapper. A generation takes a
 * free slot and waits, in call order, while none is free; node-llama-cpp decodes the tokens of the busy
 * sequences together, in one batch: the tokens queued when the previous decode ends. With one sequence,
 * generations run one after another in call order.
 *
 * Created by the backend's `load` ({@link createSequences}), used by `LlamaCppSession`.
 *
 * @example
 * ```ts
 * import type { SlotPool } from "./llama_cpp_slots.ts";
 * declare const pool: SlotPool;
 * const text = await pool.run(async (slot) => (await slot.completion.generateCompletion("Once")));
 * ```
 * @module
 */
import type * as NodeLlamaCpp from "node-llama-cpp";
import { createSequenceOrder, type SequenceOrder } from "./llama_cpp_batch_order.ts";
import { ToolForcingWrapper } from "./llama_cpp_tools.ts";

/** One sequence of the context and what generates on it. */
export interface Slot {
  readonly sequence: NodeLlamaCpp.LlamaContextSequence;
  readonly completion: NodeLlamaCpp.LlamaCompletion;
  /** The slot's chat over `wrapper` and its tool-forcing wrapper, made on first use. */
  chat(wrapper: NodeLlamaCpp.ChatWrapper): { chat: NodeLlamaCpp.LlamaChat; forcing: ToolForcingWrapper };
}

/**
 * A context of `sequences` sequences sharing `contextSize` tokens (node-llama-cpp sizes one sequence: each
 * gets `contextSize / sequences`), its slots, and (with more than one sequence) the order its decodes'
 * tokens are given to llama.cpp in (llama_cpp_batch_order.ts).
 */
export async function createSequences(
  lib: typeof NodeLlamaCpp,
  model: NodeLlamaCpp.LlamaModel,
  options: { contextSize: number; sequences: number; threads: number; signal?: AbortSignal },
): Promise<{ context: NodeLlamaCpp.LlamaContext; slots: SlotPool; order: SequenceOrder | undefined }> {
  const { sequences } = options;
  // Several sequences decode together only when their tokens reach llama.cpp in sequence order.
  const order = sequences > 1 ? createSequenceOrder() : undefined;
  const context = await model.createContext({
    contextSize: Math.max(1, Math.floor(options.contextSize / sequences)),
    sequences,
    threads: options.threads,
    ...(order ? { batching: { itemPrioritizationStrategy: order.strategy } } : {}),
    ...(options.signal ? { createSignal: options.signal } : {}),
  });
  order?.attach(context);
  return { context, slots: new SlotPool(lib, context, sequences), order };
}

/** The slots of one context. */
export class SlotPool {
  readonly #all: SlotImpl[] = [];
  readonly #free: SlotImpl[] = [];
  readonly #waiting: ((slot: SlotImpl) => void)[] = [];
  readonly #running = new Set<Promise<unknown>>();

  constructor(lib: typeof NodeLlamaCpp, context: NodeLlamaCpp.LlamaContext, sequences: number) {
    for (let i = 0; i < sequences; i++) {
      const slot = new SlotImpl(lib, context.getSequence());
      this.#all.push(slot);
      this.#free.push(slot);
    }
  }

  /** Sequences of the context. */
  get size(): number {
    return this.#all.length;
  }

  /** Runs `body` on a free slot, when one is (in call order). */
  run<T>(body: (slot: Slot) => Promise<T>): Promise<T> {
    const turn = this.#take().then(async (slot) => {
      try {
        return await body(slot);
      } finally {
        this.#give(slot);
      }
    });
    const settled = turn.catch(() => {});
    this.#running.add(settled);
    void settled.then(() => this.#running.delete(settled));
    return turn;
  }

  /** Waits for every running and waiting generation to end. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  /** Frees every slot's chat and completion (and its sequence). Call after {@link idle}. */
  dispose(): void {
    for (const slot of this.#all) slot.dispose();
  }

  #take(): Promise<SlotImpl> {
    const slot = this.#free.shift();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #give(slot: SlotImpl): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next(slot);
    else this.#free.push(slot);
  }
}

class SlotImpl implements Slot {
  readonly sequence: NodeLlamaCpp.LlamaContextSequence;
  readonly completion: NodeLlamaCpp.LlamaCompletion;
  readonly #lib: typeof NodeLlamaCpp;
  #chat: { chat: NodeLlamaCpp.LlamaChat; forcing: ToolForcingWrapper } | undefined;

  constructor(lib: typeof NodeLlamaCpp, sequence: NodeLlamaCpp.LlamaContextSequence) {
    this.#lib = lib;
    this.sequence = sequence;
    this.completion = new lib.LlamaCompletion({ contextSequence: sequence });
  }

  chat(wrapper: NodeLlamaCpp.ChatWrapper): { chat: NodeLlamaCpp.LlamaChat; forcing: ToolForcingWrapper } {
    if (this.#chat === undefined) {
      const forcing = new ToolForcingWrapper(this.#lib, wrapper);
      const chat = new this.#lib.LlamaChat({ contextSequence: this.sequence, chatWrapper: forcing.wrapper });
      this.#chat = { chat, forcing };
    }
    return this.#chat;
  }

  dispose(): void {
    this.#chat?.chat.dispose({ disposeSequence: false });
    this.completion.dispose({ disposeSequence: true });
  }
}
