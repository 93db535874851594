/**
 * The sequences of a llama.cpp context, one generation on each at a time: a {@link Slot} is one sequence
 * with its text completion and (made on first use) its chat and tool-forcing wrapper. A generation takes a
 * free slot and waits, in call order, while none is free; node-llama-cpp decodes the tokens of the busy
 * sequences together, in one batch, and {@link gatherSchedule} waits a moment for all of them before a
 * decode. With one sequence, generations run one after another in call order.
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
import { ToolForcingWrapper } from "./llama_cpp_tools.ts";

/** One sequence of the context and what generates on it. */
export interface Slot {
  readonly sequence: NodeLlamaCpp.LlamaContextSequence;
  readonly completion: NodeLlamaCpp.LlamaCompletion;
  /** The slot's chat over `wrapper` and its tool-forcing wrapper, made on first use. */
  chat(wrapper: NodeLlamaCpp.ChatWrapper): { chat: NodeLlamaCpp.LlamaChat; forcing: ToolForcingWrapper };
}

/** Longest a decode waits for the other busy sequences' tokens before it goes without them. */
export const GATHER_WAIT_MS = 4;

/**
 * A node-llama-cpp dispatch schedule that gathers the busy sequences' tokens into one decode: it dispatches
 * once every sequence running a generation (`busy`) has queued its next tokens (`queued`), or after
 * {@link GATHER_WAIT_MS}. node-llama-cpp's own (`nextCycle`) dispatches on the next turn of the event loop,
 * which leaves out a sequence still sampling its last token, so sequences are often decoded one by one.
 * `queued` is null when the context does not tell (then: the next turn).
 */
export function gatherSchedule(
  busy: () => number,
  queued: () => number | null,
): (dispatch: () => void) => void {
  return (dispatch) => {
    const started = performance.now();
    const check = () => {
      const waiting = queued();
      if (waiting === null || waiting >= busy() || performance.now() - started >= GATHER_WAIT_MS) dispatch();
      else setTimeout(check, 0);
    };
    setTimeout(check, 0);
  };
}

/** The number of sequences with tokens queued for the next decode of `context` (node-llama-cpp internals). */
export function queuedSequences(context: NodeLlamaCpp.LlamaContext): number | null {
  const ids = (context as unknown as { _queuedDecodeSequenceIds?: unknown })._queuedDecodeSequenceIds;
  return ids instanceof Set ? ids.size : null;
}

/**
 * A context of `sequences` sequences sharing `contextSize` tokens (node-llama-cpp sizes one sequence: each
 * gets `contextSize / sequences`), and its slots; several sequences' tokens are gathered into one decode.
 */
export async function createSequences(
  lib: typeof NodeLlamaCpp,
  model: NodeLlamaCpp.LlamaModel,
  options: { contextSize: number; sequences: number; threads: number; signal?: AbortSignal },
): Promise<{ context: NodeLlamaCpp.LlamaContext; slots: SlotPool }> {
  const { sequences } = options;
  const made: { slots?: SlotPool; context?: NodeLlamaCpp.LlamaContext } = {};
  const batching = sequences === 1 ? {} : {
    batching: {
      dispatchSchedule: gatherSchedule(
        () => made.slots?.busy ?? sequences,
        () => made.context === undefined ? null : queuedSequences(made.context),
      ),
    },
  };
  const context = await model.createContext({
    contextSize: Math.max(1, Math.floor(options.contextSize / sequences)),
    sequences,
    threads: options.threads,
    ...(options.signal ? { createSignal: options.signal } : {}),
    ...batching,
  });
  made.context = context;
  made.slots = new SlotPool(lib, context, sequences);
  return { context, slots: made.slots };
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

  /** Sequences running a generation now. */
  get busy(): number {
    return this.#all.length - this.#free.length;
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
