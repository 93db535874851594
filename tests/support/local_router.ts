/**
 * A {@link Router} for tests of the daemon's request handling: it loads models
 * in this process with the real node-llama-cpp backend (real sessions, the
 * real model — not a mock), from a fixed map of names to files. Concurrent
 * acquires of one model share one load; `unload` closes the session once its
 * leases are released. No keep-alive, eviction or runner processes: those are
 * the shipped router's job.
 *
 * @example
 * ```ts
 * const router = new LocalRouter({ models: { stories260K: STORIES }, load: { threads: 1 } });
 * const lease = await router.acquire("stories260K");
 * console.log((await lease.session.generate("Once upon a time", { maxTokens: 8 }).result).text);
 * lease.release();
 * await router.close();
 * ```
 * @module
 */
import { LodeError } from "../../src/errors.ts";
import type {
  Backend,
  GenerateOptions,
  Generation,
  LoadOptions,
  Session,
} from "../../src/inference/backend.ts";
import { createGeneration, createLlamaCppBackend } from "../../src/inference/mod.ts";
import type { ModelEntry } from "../../src/daemon/wire/protocol.ts";
import type { Lease, ModelStatus, Router } from "../../src/daemon/router/router.ts";

/** The real stories260K model. */
export const STORIES: string = new URL("../fixtures/stories260K.gguf", import.meta.url).pathname;

/** Options of {@link LocalRouter}. */
export interface LocalRouterOptions {
  /** Model name → GGUF path. */
  models: Record<string, string>;
  /** Backend load options (threads 1 by default: these machines have 2 cores). */
  load?: LoadOptions;
  /**
   * Hold each generated chunk this long before passing it on (the real
   * session still generates it): stories260K fills its 512-token context in
   * half a second, too fast to cancel or drain a running generation reliably.
   */
  tokenDelayMs?: number;
}

interface Loaded {
  session: Promise<Session>;
  leases: number;
}

/** In-process router over the real backend, for tests. */
export class LocalRouter implements Router {
  readonly #models: Record<string, string>;
  readonly #load: LoadOptions;
  readonly #delay: number;
  readonly #backend: Backend = createLlamaCppBackend();
  readonly #loaded = new Map<string, Loaded>();
  readonly #listeners = new Set<(s: ModelStatus) => void>();
  /** How many loads were started (tests check that concurrent acquires share one). */
  loads = 0;

  constructor(options: LocalRouterOptions) {
    this.#models = options.models;
    this.#load = { threads: 1, gpu: "off", ...options.load };
    this.#delay = options.tokenDelayMs ?? 0;
  }

  /** Names of the loaded models. */
  loadedNames(): string[] {
    return [...this.#loaded.keys()];
  }

  acquire(model: string, options: { signal?: AbortSignal } = {}): Promise<Lease> {
    const path = this.#models[model];
    if (path === undefined) {
      return Promise.reject(
        new LodeError("MODEL_NOT_FOUND", `no model named ${model}`, { details: { model } }),
      );
    }
    let entry = this.#loaded.get(model);
    if (!entry) {
      this.loads++;
      const delay = this.#delay;
      const session = this.#backend.load(path, {
        ...this.#load,
        onStatus: (event) => this.#emit({ model, event }),
      }).then((s) => {
        this.#emit({ model, event: { status: "ready" } });
        return delay > 0 ? slowed(s, delay) : s;
      });
      entry = { session, leases: 0 };
      const created = entry;
      this.#loaded.set(model, created);
      session.catch(() => {
        if (this.#loaded.get(model) === created) this.#loaded.delete(model);
      });
    }
    const held = entry;
    held.leases++;
    const giveBack = () => held.leases--;
    const aborted = new Promise<never>((_, reject) => {
      if (options.signal?.aborted) reject(interrupted(options.signal));
      options.signal?.addEventListener("abort", () => reject(interrupted(options.signal!)), { once: true });
    });
    aborted.catch(() => {});
    return Promise.race([held.session, aborted]).then(
      (session) => {
        let released = false;
        return {
          model,
          session,
          release: () => {
            if (released) return;
            released = true;
            giveBack();
          },
        };
      },
      (e) => {
        giveBack();
        throw e;
      },
    );
  }

  async load(model: string, options: { signal?: AbortSignal } = {}): Promise<ModelEntry> {
    const lease = await this.acquire(model, options);
    try {
      return entryOf(model, lease.session);
    } finally {
      lease.release();
    }
  }

  async unload(model: string): Promise<boolean> {
    const entry = this.#loaded.get(model);
    if (!entry) return false;
    this.#loaded.delete(model);
    await (await entry.session).close();
    return true;
  }

  async models(): Promise<ModelEntry[]> {
    const out: ModelEntry[] = [];
    for (const name of Object.keys(this.#models)) {
      const entry = this.#loaded.get(name);
      const session = entry ? await entry.session.catch(() => null) : null;
      out.push(session ? entryOf(name, session) : { name, loaded: false });
    }
    return out;
  }

  onStatus(listener: (status: ModelStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#loaded.clear();
    await this.#backend.close();
  }

  #emit(status: ModelStatus): void {
    for (const l of this.#listeners) l(status);
  }
}

/** `session` with every generated chunk held `ms` before it is passed on. */
function slowed(session: Session, ms: number): Session {
  const wrap = (start: (options: GenerateOptions) => Generation, options: GenerateOptions = {}) =>
    createGeneration(async (emit, signal) => {
      const inner = start({ ...options, signal });
      for await (const chunk of inner) {
        emit(chunk);
        await sleep(ms, signal);
      }
      return await inner.result;
    }, options.signal ? { signal: options.signal } : {});
  return {
    capabilities: session.capabilities,
    info: session.info,
    generate: (prompt, options) => wrap((o) => session.generate(prompt, o), options),
    chat: (messages, options) => wrap((o) => session.chat(messages, o), options),
    renderChat: (messages) => session.renderChat(messages),
    embed: (texts, options) => session.embed(texts, options),
    tokenize: (text) => session.tokenize(text),
    detokenize: (tokens) => session.detokenize(tokens),
    close: () => session.close(),
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

function entryOf(name: string, session: Session): ModelEntry {
  return {
    name,
    loaded: true,
    context_size: session.info.contextSize,
    capabilities: session.capabilities,
    expires_in_ms: null,
  };
}

function interrupted(signal: AbortSignal): unknown {
  return signal.reason instanceof LodeError
    ? signal.reason
    : new LodeError("INTERRUPTED", "the load was interrupted");
}
