/**
 * The node-llama-cpp (llama.cpp) {@link Backend}: loads a GGUF file, reports
 * `loading_model` (`mmap`, `kv_cache`) and `capabilities` status events, and
 * gives sessions that stream text continuations (`generate`), answers
 * through the model's chat template (`chat`), embeddings and tokens.
 *
 * node-llama-cpp is slow to import, so it is imported lazily by the
 * first `load`, never by importing this module. One llama.cpp runtime is
 * started per backend (per GPU mode) and shared by its sessions; `close`
 * releases it.
 *
 * @example
 * ```ts
 * import { createLlamaCppBackend } from "./llama_cpp_backend.ts";
 * const backend = createLlamaCppBackend();
 * const session = await backend.load("tests/fixtures/stories260K.gguf", { gpu: "off" });
 * for await (const chunk of session.generate("Once upon a time", { maxTokens: 40 })) console.log(chunk);
 * await backend.close();
 * ```
 * @module
 */
import type * as NodeLlamaCpp from "node-llama-cpp";
import { isLodeError, LodeError } from "../errors.ts";
import type {
  Backend,
  Capabilities,
  LoadOptions,
  ProbeResult,
  Session,
  SessionInfo,
  StatusEvent,
  Vocabulary,
} from "./backend.ts";
import { pinForModel, planCpus } from "./cpu_affinity.ts";
import { defaultThreads } from "./default_threads.ts";
import { probeGguf } from "./gguf_probe.ts";
import { preflight } from "./memory_preflight.ts";
import { canEmbed } from "./llama_cpp_embed.ts";
import { LlamaLogTail, loadFailedError } from "./llama_cpp_load_error.ts";
import { assertFile, gpuLayers, validateLoadOptions } from "./llama_cpp_load_checks.ts";
import { LlamaCppSession } from "./llama_cpp_session.ts";
import { createSequences } from "./llama_cpp_slots.ts";
import { chatWrapperFor, type GivenTemplate } from "./llama_cpp_chat.ts";
import { wrapperSupportsTools } from "./llama_cpp_tools.ts";
import { openFfiVocabulary } from "./llama_cpp_ffi_vocabulary.ts";
import { LlamaCppVocabulary } from "./llama_cpp_vocabulary.ts";

/** The name of this backend, also `capabilities.backend`. */
export const LLAMA_CPP_BACKEND_NAME = "llamacpp";

/** The context size used when none is asked for (capped by the model's training context). */
export const DEFAULT_CONTEXT_SIZE = 4096;

/** How long `close` waits for node-llama-cpp to release a runtime after a failed load (see #disposeRuntime). */
const DISPOSE_GRACE_MS = 500;

/**
 * Options of {@link createLlamaCppBackend}.
 *
 * @example
 * ```ts
 * import type { LlamaCppBackendOptions } from "./llama_cpp_backend.ts";
 * const options: LlamaCppBackendOptions = { verbose: true, log: (level, line) => console.error(level, line) };
 * ```
 */
export interface LlamaCppBackendOptions {
  /**
   * Pass llama.cpp's logs (level `info` and above) to `log`. Off by default:
   * then nothing is printed, and llama.cpp's error lines only end up in the
   * `details.llama_log` of the `LodeError` they explain.
   */
  verbose?: boolean;
  /** Where verbose logs go. Default: standard error, one `[llama.cpp LEVEL] line` each. */
  log?: (level: string, line: string) => void;
  /** Clock for load and generation timings, in milliseconds. Default `performance.now`. */
  now?: () => number;
  /** Free RAM in bytes for the memory preflight (default: the preflight reads `MemAvailable` of /proc/meminfo). */
  availableRam?: () => Promise<number>;
}

/**
 * Creates the node-llama-cpp backend. Cheap: nothing is imported or started
 * until the first `load`.
 *
 * @example
 * ```ts
 * import { createLlamaCppBackend } from "./llama_cpp_backend.ts";
 * const backend = createLlamaCppBackend({ verbose: false });
 * console.log(backend.name); // "llamacpp"
 * ```
 */
export function createLlamaCppBackend(options: LlamaCppBackendOptions = {}): Backend {
  return new LlamaCppBackend(options);
}

type Runtime = NodeLlamaCpp.Llama;
type RuntimeKind = "cpu" | "auto";

class LlamaCppBackend implements Backend {
  readonly name = LLAMA_CPP_BACKEND_NAME;
  readonly #verbose: boolean;
  readonly #log: (level: string, line: string) => void;
  readonly #now: () => number;
  readonly #availableRam: (() => Promise<number>) | undefined;
  readonly #runtimes = new Map<RuntimeKind, Promise<Runtime>>();
  readonly #sessions = new Set<LlamaCppSession>();
  readonly #vocabularies = new Set<Vocabulary>();
  readonly #logTail = new LlamaLogTail();
  #failedLoads = 0;
  #closed = false;

  constructor(options: LlamaCppBackendOptions) {
    this.#verbose = options.verbose ?? false;
    this.#log = options.log ?? ((level, line) => console.error(`[llama.cpp ${level}] ${line}`));
    this.#now = options.now ?? (() => performance.now());
    this.#availableRam = options.availableRam;
  }

  probe(path: string): Promise<ProbeResult> {
    return probeGguf(path);
  }

  async load(path: string, options: LoadOptions = {}): Promise<Session> {
    if (this.#closed) throw new LodeError("INTERNAL", "load() called on a closed backend");
    validateLoadOptions(options);
    // A CPU list this process may not use is the caller's mistake, told before anything loads.
    if (Array.isArray(options.cpus)) await planCpus(options.cpus, { threads: 1, cpuOnly: true });
    const { signal } = options;
    const started = this.#now();
    throwIfAborted(signal);
    await assertFile(path);
    let lib: typeof NodeLlamaCpp;
    let llama: Runtime;
    try {
      lib = await import("node-llama-cpp");
      llama = await this.#runtime(lib, options.gpu === "off" ? "cpu" : "auto");
    } catch (e) {
      throw this.#loadFailed(
        path,
        e,
        this.#logTail.mark(),
        `the llama.cpp runtime could not start to load ${path}`,
      );
    }
    throwIfAborted(signal);
    const preflightContext = options.memoryCheck === false
      ? undefined
      : await this.#checkMemory(path, options, llama);
    const logMark = this.#logTail.mark();
    notify(options.onStatus, { status: "loading_model", phase: "mmap", path });
    let model: NodeLlamaCpp.LlamaModel;
    try {
      model = await llama.loadModel({
        modelPath: path,
        gpuLayers: gpuLayers(options.gpu),
        loadSignal: signal,
      });
    } catch (e) {
      this.#failedLoads++;
      throw signal?.aborted ? interrupted(path, e) : this.#loadFailed(path, e, logMark);
    }
    try {
      // The template is resolved (and a given one checked) before any context is allocated.
      const wrapper = chatWrapperFor(lib, model, givenTemplate(options));
      const nCtx = options.contextSize ?? preflightContext ??
        (options.sequences ?? 1) *
          Math.min(model.trainContextSize || DEFAULT_CONTEXT_SIZE, DEFAULT_CONTEXT_SIZE);
      const threads = options.threads ?? defaultThreads();
      const cpus = await pinForModel(options, {
        threads,
        cpuOnly: llama.gpu === false || model.gpuLayers === 0,
      });
      notify(options.onStatus, { status: "loading_model", phase: "kv_cache", n_ctx: nCtx });
      const { context, slots } = await createSequences(lib, model, {
        contextSize: nCtx,
        sequences: options.sequences ?? 1,
        threads,
        signal,
      });
      const capabilities: Capabilities = {
        backend: LLAMA_CPP_BACKEND_NAME,
        v2: false,
        vision: false,
        audio: false,
        tools: wrapperSupportsTools(wrapper),
        thinking: false,
        embed: canEmbed(model),
        accelerator: llama.gpu === false ? "cpu" : llama.gpu,
        gpu_layers: model.gpuLayers,
      };
      notify(options.onStatus, { status: "capabilities", ...capabilities });
      const info: SessionInfo = {
        path,
        architecture: String(model.fileInfo.metadata.general?.architecture ?? "unknown"),
        contextSize: context.contextSize,
        trainContextSize: model.trainContextSize,
        threads,
        hasChatTemplate: options.chatTemplate !== undefined ||
          typeof model.fileInfo.metadata.tokenizer?.chat_template === "string",
        embeddingSize: model.embeddingVectorSize,
        loadMs: this.#now() - started,
        ...(cpus !== null ? { cpus } : {}),
      };
      const session = new LlamaCppSession({
        lib,
        model,
        context,
        capabilities,
        info,
        wrapper,
        now: this.#now,
        slots,
        onClosed: (s) => this.#sessions.delete(s),
      });
      this.#sessions.add(session);
      return session;
    } catch (e) {
      this.#failedLoads++;
      await settleWithin(model.dispose(), DISPOSE_GRACE_MS);
      if (signal?.aborted) throw interrupted(path, e);
      // A given chat template's failure names the template, not llama.cpp's log.
      throw isLodeError(e, "MODEL_LOAD_FAILED") ? e : this.#loadFailed(path, e, logMark);
    }
  }

  async loadVocabulary(path: string): Promise<Vocabulary> {
    if (this.#closed) throw new LodeError("INTERNAL", "loadVocabulary() called on a closed backend");
    await assertFile(path);
    // lode's bounded reader first: llama.cpp never parses a bad header. Its reason names the path.
    const probed = await probeGguf(path);
    if (!probed.ok) throw new LodeError("MODEL_LOAD_FAILED", probed.reason, { details: { path } });
    const logMark = this.#logTail.mark();
    try {
      const lib = await import("node-llama-cpp");
      // Closed meanwhile: a runtime started now would never be disposed.
      if (this.#closed) throw new LodeError("INTERNAL", "loadVocabulary() called on a closed backend");
      const llama = await this.#runtime(lib, "cpu");
      const forget = (v: Vocabulary) => this.#vocabularies.delete(v);
      // Straight to the libllama node-llama-cpp loaded when it can (cheaper per call), else the addon.
      const onUnavailable = (why: string) => this.#log("info", `vocabulary through the addon: ${why}`);
      const vocabulary = await openFfiVocabulary(path, { onClosed: forget, onUnavailable }) ??
        new LlamaCppVocabulary(
          await llama.loadModel({ modelPath: path, vocabOnly: true, gpuLayers: 0 }),
          forget,
        );
      this.#vocabularies.add(vocabulary);
      return vocabulary;
    } catch (e) {
      if (isLodeError(e, "INTERNAL")) throw e;
      this.#failedLoads++; // a failed loadModel can leak node-llama-cpp's dispose guard (#disposeRuntime)
      throw this.#loadFailed(path, e, logMark, `could not read the vocabulary of ${path}`);
    }
  }

  /**
   * The memory preflight: refuses with `INSUFFICIENT_MEMORY` a model and context that do not fit, before
   * llama.cpp allocates anything; returns the context size it checked. Layers: none on the CPU; an exact
   * `--gpu N` is checked against free VRAM; with `auto` node-llama-cpp fits the layers to VRAM itself,
   * so only the RAM the rest needs (at least) is checked. A model lode cannot read as GGUF (or a missing
   * shard) fails the load.
   */
  async #checkMemory(path: string, options: LoadOptions, llama: Runtime): Promise<number> {
    const onCpu = llama.gpu === false || options.gpu === "off";
    const gpuLayers = onCpu ? 0 : typeof options.gpu === "number" ? options.gpu : Number.MAX_SAFE_INTEGER;
    try {
      const estimate = await preflight(path, {
        contextSize: options.contextSize,
        sequences: options.sequences,
        maxDefaultContext: DEFAULT_CONTEXT_SIZE,
        gpuLayers,
        availableRam: await this.#availableRam?.(),
        availableVram: typeof options.gpu === "number" && !onCpu
          ? (await llama.getVramState()).free
          : undefined,
      });
      return estimate.contextSize;
    } catch (e) {
      // A malformed header, or a shard of a split model that is missing or unreadable.
      if (!isLodeError(e, "GGUF_INVALID") && !isLodeError(e, "IO")) throw e;
      throw new LodeError("MODEL_LOAD_FAILED", e.message, {
        details: { path, gguf: e.details },
        cause: e,
      });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#sessions, ...this.#vocabularies].map((s) => s.close()));
    const runtimes = [...this.#runtimes.values()];
    this.#runtimes.clear();
    for (const pending of runtimes) {
      const llama = await pending.catch(() => undefined);
      if (llama !== undefined) await this.#disposeRuntime(llama);
    }
  }

  /**
   * node-llama-cpp 3.21.1 leaks a dispose guard when `loadModel` fails after
   * the model object was created (corrupt tensors, an abort): once that object
   * is garbage-collected, `Llama.dispose()` waits forever. After a failed load
   * we therefore wait a grace period and then leave the runtime to process exit.
   */
  async #disposeRuntime(llama: Runtime): Promise<void> {
    if (this.#failedLoads === 0) await llama.dispose();
    else await settleWithin(llama.dispose(), DISPOSE_GRACE_MS);
  }

  #runtime(lib: typeof NodeLlamaCpp, kind: RuntimeKind): Promise<Runtime> {
    let pending = this.#runtimes.get(kind);
    if (pending === undefined) {
      pending = lib.getLlama({
        gpu: kind === "cpu" ? false : "auto",
        build: "never", // a prebuilt binary or nothing: never compile llama.cpp at run time
        progressLogs: false,
        logLevel: this.#verbose ? lib.LlamaLogLevel.info : lib.LlamaLogLevel.error,
        logger: (level, message) => this.#onLog(level, message),
      });
      this.#runtimes.set(kind, pending);
      pending.catch(() => this.#runtimes.delete(kind));
    }
    return pending;
  }

  #onLog(level: string, message: string): void {
    const line = message.trimEnd();
    if (line === "") return;
    this.#logTail.record(level, line);
    if (this.#verbose) this.#log(level, line);
  }

  /** A MODEL_LOAD_FAILED error whose message is llama.cpp's own explanation when it logged one since `logMark`. */
  #loadFailed(path: string, cause: unknown, logMark: number, what?: string): LodeError {
    return loadFailedError(path, cause, this.#logTail.since(logMark), what);
  }
}

/** The load's chat template, when one is given instead of the model's own. */
function givenTemplate(options: LoadOptions): GivenTemplate | undefined {
  if (options.chatTemplate === undefined) return undefined;
  return options.chatTemplateName === undefined
    ? { text: options.chatTemplate }
    : { text: options.chatTemplate, name: options.chatTemplateName };
}

function notify(onStatus: ((event: StatusEvent) => void) | undefined, event: StatusEvent): void {
  try {
    onStatus?.(event);
  } catch {
    // An observer's failure never breaks a load.
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new LodeError("INTERRUPTED", "loading the model was cancelled", { cause: signal.reason });
  }
}

function interrupted(path: string, cause: unknown): LodeError {
  return new LodeError("INTERRUPTED", "loading the model was cancelled", { details: { path }, cause });
}

/** Waits for `promise` to settle, but at most `ms` (the timer keeps the event loop alive meanwhile). */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await Promise.race([promise.catch(() => {}), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
