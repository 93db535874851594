/**
 * Tokenizing in the daemon: a loaded model whose `tokenize` and
 * `detokenize` are answered from the model's vocabulary loaded in the
 * daemon's own process (`Backend.loadVocabulary`: no weights, no context),
 * while everything else goes to its runner as before.
 *
 * Why: a runner round trip (a socket write, a wake-up in the runner, its
 * reply, a wake-up in the daemon) costs several times the tokenization
 * itself; from the vocabulary `tokenize` answers about as fast as `health`
 * (scripts/bench_daemon.ts, docs/benchmarks.md). The router hands the open vocabulary out
 * ({@link vocabularyOf}, `Router.vocabulary`), and the daemon answers
 * tokenize from it at once, without a lease.
 *
 * Why it is safe to do in the daemon: the vocabulary is opened only after
 * the runner has loaded the same verified, immutable bytes with the same
 * llama.cpp (a file that crashes llama.cpp crashes the runner first), and
 * after lode's own bounded GGUF reader accepted its header. Until it is
 * open, or if opening it fails, tokenize goes to the runner. It is closed
 * when the runner exits (crash or close), so it never outlives the model.
 * @module
 */
import type {
  ChatMessage,
  EmbedOptions,
  GenerateOptions,
  Generation,
  Vocabulary,
} from "../../inference/backend.ts";
import type { LoadedModel } from "./model_state.ts";

/** Options of {@link withVocabulary}. */
export interface WithVocabularyOptions {
  /** Why the vocabulary could not be opened (tokenize then stays with the runner). */
  onError?: (error: unknown) => void;
}

/**
 * `loaded`, with tokenize/detokenize answered by the vocabulary `open` gives (opened now, in the
 * background) once it is open. Closing the result closes both; the vocabulary is also closed as soon
 * as `loaded` exits.
 */
export function withVocabulary(
  loaded: LoadedModel,
  open: () => Promise<Vocabulary>,
  options: WithVocabularyOptions = {},
): LoadedModel {
  return new VocabularySession(loaded, open, options);
}

class VocabularySession implements LoadedModel {
  readonly capabilities: LoadedModel["capabilities"];
  readonly info: LoadedModel["info"];
  readonly pid: number | undefined;
  readonly exited: LoadedModel["exited"];
  readonly #model: LoadedModel;
  readonly #opening: Promise<Vocabulary | undefined>;
  #vocabulary: Vocabulary | undefined;
  #gone = false;

  constructor(model: LoadedModel, open: () => Promise<Vocabulary>, options: WithVocabularyOptions) {
    this.#model = model;
    this.capabilities = model.capabilities;
    this.info = model.info;
    this.pid = model.pid;
    this.exited = model.exited;
    this.#opening = (async () => {
      try {
        const vocabulary = await open();
        if (this.#gone) await vocabulary.close();
        else this.#vocabulary = vocabulary;
        return vocabulary;
      } catch (e) {
        if (!this.#gone) options.onError?.(e); // after close it failed because everything is closing
        return undefined;
      }
    })();
    // A vocabulary that fails to close after its runner is gone is left to the backend's own close.
    void model.exited.then(() => this.#closeVocabulary()).catch(() => {});
  }

  /** The vocabulary, while open. */
  get vocabulary(): Vocabulary | undefined {
    return this.#vocabulary;
  }

  /** Settles once the vocabulary is open (true) or could not be opened (false). For tests and benchmarks. */
  get vocabularyReady(): Promise<boolean> {
    return this.#opening.then((v) => v !== undefined && !this.#gone);
  }

  generate(prompt: string, options?: GenerateOptions): Generation {
    return this.#model.generate(prompt, options);
  }

  chat(messages: ChatMessage[], options?: GenerateOptions): Generation {
    return this.#model.chat(messages, options);
  }

  renderChat(messages: ChatMessage[]): Promise<string> {
    return this.#model.renderChat(messages);
  }

  embed(texts: string[], options?: EmbedOptions): Promise<number[][]> {
    return this.#model.embed(texts, options);
  }

  tokenize(text: string): Promise<number[]> {
    const vocabulary = this.#vocabulary;
    return vocabulary ? Promise.try(() => vocabulary.tokenize(text)) : this.#model.tokenize(text);
  }

  detokenize(tokens: number[]): Promise<string> {
    const vocabulary = this.#vocabulary;
    return vocabulary ? Promise.try(() => vocabulary.detokenize(tokens)) : this.#model.detokenize(tokens);
  }

  /** Closes both; waits for an opening under way too (which closes what it opened). */
  async close(): Promise<void> {
    await Promise.all([this.#model.close(), this.#closeVocabulary(), this.#opening]);
  }

  async #closeVocabulary(): Promise<void> {
    this.#gone = true;
    const vocabulary = this.#vocabulary;
    this.#vocabulary = undefined; // from now on the model answers (or says it is gone)
    await vocabulary?.close();
  }
}

/**
 * The vocabulary `loaded` tokenizes with in this process, while it is open; undefined for a model
 * not made by {@link withVocabulary}.
 */
export function vocabularyOf(loaded: LoadedModel): Vocabulary | undefined {
  return loaded instanceof VocabularySession ? loaded.vocabulary : undefined;
}

/**
 * Whether tokenize of `loaded` is answered in this process: resolves once that is decided (for tests
 * and benchmarks; false for a model not made by {@link withVocabulary}).
 */
export function tokenizesInProcess(loaded: LoadedModel): Promise<boolean> {
  return loaded instanceof VocabularySession ? loaded.vocabularyReady : Promise.resolve(false);
}
