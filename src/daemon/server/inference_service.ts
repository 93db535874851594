/**
 * The daemon's model ops as one typed service, whichever front a request
 * comes through — the NDJSON inference socket (request_handler.ts) or the
 * OpenAI-compatible HTTP front (openai_http.ts): `generate`, `chat`, `embed`,
 * `tokenize`, `detokenize`, `renderChat`, `load`, `unload` and `models`, over
 * the router and the admission queue both fronts share, answered in the
 * backend contract's own types ({@link Generation}, `GenerateResult`,
 * `Usage`: src/inference/backend.ts). Each front encodes them in its own wire
 * format.
 *
 * - `generate`, `chat` and `embed` take an admission slot first (the work the
 *   queue bounds; `onWait` tells their place while they wait); the other ops
 *   do not wait in the queue.
 * - An op that waits for its model's load is told the load's phases
 *   (`onWait`), the last one again every `LOADING_REPEAT_MS` while nothing
 *   new happens (service_wait.ts).
 * - A failure rejects with the {@link LodeError} to report: the reason the
 *   call's signal was aborted with (a cancel, a drain, the client leaving),
 *   else the op's error, a `CONTEXT_LENGTH_EXCEEDED` naming the request's
 *   input in `details.field` (`prompt`, `messages`, `input`).
 *
 * @example
 * ```ts
 * import { InferenceService } from "./inference_service.ts";
 * import { AdmissionQueue } from "./admission_queue.ts";
 * import type { Router } from "../router/router.ts";
 * declare const router: Router;
 * const service = new InferenceService({ router, queue: new AdmissionQueue({ maxQueue: 64, parallel: 1 }) });
 * const generation = await service.generate({ model: "stories260K", prompt: "Once upon a time" }, { maxTokens: 8 }, {
 *   key: "1/g1",
 *   signal: new AbortController().signal,
 * });
 * for await (const texts of generation.batches()) console.log(texts);
 * console.log((await generation.result).usage);
 * ```
 * @module
 */
import { type LodeError, toLodeError } from "../../errors.ts";
import type {
  Capabilities,
  ChatMessage,
  GenerateOptions,
  Generation,
  SessionInfo,
} from "../../inference/backend.ts";
import type { Admission, AdmissionQueue } from "./admission_queue.ts";
import type { ModelEntry } from "../wire/protocol.ts";
import type { Lease, ModelSettings, Router } from "../router/router.ts";
import { badToken, reported, reporting } from "./service_errors.ts";
import { acquireTellingLoad, type WaitEvent } from "./service_wait.ts";

export type { WaitEvent } from "./service_wait.ts";

/**
 * One request as the service sees it, whatever its wire.
 *
 * @example
 * ```ts
 * import type { ServiceCall } from "./inference_service.ts";
 * const call: ServiceCall = { key: "http/1", signal: new AbortController().signal, onWait: console.log };
 * ```
 */
export interface ServiceCall {
  /** The request's admission key, unique in the daemon (`<connection>/<id>`). */
  key: string;
  /** Aborted when the request is cancelled, its client leaves, or a drain runs out of time. */
  signal: AbortSignal;
  /** Told while the call waits (never blocks; a throw is the caller's own). */
  onWait?: (event: WaitEvent) => void;
  /**
   * The context the call's request gets, in tokens: the model is leased with it (reloaded with it once its
   * other requests finish, when it is loaded with another). Absent: the context it is loaded with.
   */
  contextSize?: number;
}

/**
 * A generation running in the daemon: the session's stream, holding its admission slot and its model
 * until it ends (its result settles, or its reader leaves the loop); failures as the service reports them.
 *
 * @example
 * ```ts
 * import type { ServiceGeneration } from "./inference_service.ts";
 * const waited = (g: ServiceGeneration) => `${g.model} after ${g.queueMs} ms in the queue`;
 * ```
 */
export interface ServiceGeneration extends Generation {
  /** The model's name in the store. */
  readonly model: string;
  /** Milliseconds the request waited in the admission queue. */
  readonly queueMs: number;
}

/** What {@link InferenceService.generate} continues: a prompt, or a conversation through the chat template. */
export type GenerateInput = { model: string; prompt: string } | { model: string; messages: ChatMessage[] };

/**
 * A loaded model, as {@link InferenceService.load} reports it.
 *
 * @example
 * ```ts
 * import type { LoadedModel } from "./inference_service.ts";
 * const line = (m: LoadedModel) => `${m.model}: n_ctx ${m.info.contextSize} in ${m.loadMs} ms`;
 * ```
 */
export interface LoadedModel {
  model: string;
  /** How long this call took (the model's own load time is `info.loadMs`). */
  loadMs: number;
  /** How long it stays loaded once idle (`Infinity`: until evicted), when the router tells. */
  keepAliveMs?: number;
  capabilities: Capabilities;
  info: SessionInfo;
}

/** The request field each op's input is, for the errors about it. */
const INPUT_FIELD = { generate: "prompt", chat: "messages", embed: "input" } as const;
type InputOp = keyof typeof INPUT_FIELD;

/** The model ops over a router and an admission queue. */
export class InferenceService {
  readonly #router: Router;
  readonly #queue: AdmissionQueue;

  constructor(options: { router: Router; queue: AdmissionQueue }) {
    this.#router = options.router;
    this.#queue = options.queue;
  }

  /** Requests that run at once per model (the admission queue's `--parallel`). */
  get parallel(): number {
    return this.#queue.parallel;
  }

  /**
   * Admits the call, leases the model and starts the generation (`prompt`: a continuation; `messages`:
   * through the chat template). Resolves once it runs; reading it, or awaiting its result, to the end
   * gives the slot and the model back.
   */
  async generate(
    input: GenerateInput,
    options: Omit<GenerateOptions, "signal">,
    call: ServiceCall,
  ): Promise<ServiceGeneration> {
    const op = "prompt" in input ? "generate" : "chat";
    const admission = await this.#admit(input.model, call, op);
    const report = (e: unknown) => this.#reported(e, call, op, admission.signal);
    let lease: Lease;
    let inner: Generation;
    try {
      lease = await this.#leased(input.model, call, admission.signal);
    } catch (e) {
      admission.release();
      throw report(e);
    }
    try {
      const withSignal = { ...options, signal: admission.signal };
      inner = "prompt" in input
        ? lease.session.generate(input.prompt, withSignal)
        : lease.session.chat(input.messages, withSignal);
    } catch (e) {
      lease.release();
      admission.release();
      throw report(e);
    }
    const result = inner.result.then((r) => {
      if (admission.signal.aborted) throw admission.signal.reason;
      return r;
    }).catch((e) => {
      throw report(e);
    }).finally(() => {
      lease.release();
      admission.release();
    });
    result.catch(() => {}); // reported through the reader's loop or `result`, never as unhandled
    return {
      model: lease.model,
      queueMs: round(admission.waitMs),
      result,
      [Symbol.asyncIterator]: () => reporting(inner, report),
      batches: () => ({ [Symbol.asyncIterator]: () => reporting(inner.batches(), report) }),
    };
  }

  /** Admits the call, leases the model and embeds `texts`: one vector per text, in order. */
  async embed(
    model: string,
    texts: string[],
    options: { normalize?: boolean },
    call: ServiceCall,
  ): Promise<{ model: string; embeddings: number[][]; queueMs: number }> {
    const admission = await this.#admit(model, call, "embed");
    try {
      return await this.#withLease(model, call, admission.signal, async (lease) => ({
        model: lease.model,
        embeddings: await lease.session.embed(texts, {
          normalize: options.normalize ?? true,
          signal: admission.signal,
        }),
        queueMs: round(admission.waitMs),
      }));
    } catch (e) {
      throw this.#reported(e, call, "embed", admission.signal);
    } finally {
      admission.release();
    }
  }

  /**
   * The token ids of `text` from the model's vocabulary open in this process, at once (no lease, no queue,
   * no runner), or null when it has none open ({@link tokenize} then answers through a lease).
   */
  tokenizeNow(model: string, text: string): number[] | null {
    return this.#router.vocabulary?.(model)?.tokenize(text) ?? null;
  }

  /**
   * The text of token ids from the model's vocabulary open in this process, or null when it has none open.
   * Throws `BAD_REQUEST` naming `tokens.<index>` for an id outside the vocabulary.
   */
  detokenizeNow(model: string, tokens: number[]): string | null {
    const vocabulary = this.#router.vocabulary?.(model);
    if (vocabulary === undefined) return null;
    try {
      return vocabulary.detokenize(tokens);
    } catch (e) {
      throw badToken(e);
    }
  }

  /** The token ids of `text` (no BOS), from the open vocabulary or through a lease. */
  async tokenize(
    model: string,
    text: string,
    call: ServiceCall,
  ): Promise<{ model: string; tokens: number[] }> {
    const now = this.tokenizeNow(model, text);
    if (now !== null) return { model, tokens: now };
    return await this.#op(model, call, async (lease) => ({
      model: lease.model,
      tokens: await lease.session.tokenize(text),
    }));
  }

  /** The text of token ids, through a lease (`BAD_REQUEST` naming `tokens.<index>` for an id outside the vocabulary). */
  async detokenize(
    model: string,
    tokens: number[],
    call: ServiceCall,
  ): Promise<{ model: string; text: string }> {
    return await this.#op(model, call, async (lease) => {
      try {
        return { model: lease.model, text: await lease.session.detokenize(tokens) };
      } catch (e) {
        throw badToken(e);
      }
    });
  }

  /** The exact prompt `chat` feeds the model for `messages` (its chat template, the assistant's turn open). */
  async renderChat(
    model: string,
    messages: ChatMessage[],
    call: ServiceCall,
  ): Promise<{ model: string; text: string }> {
    return await this.#op(model, call, async (lease) => ({
      model: lease.model,
      text: await lease.session.renderChat(messages),
    }));
  }

  /** Loads `model` (with `settings`) and says what it is. */
  async load(model: string, settings: ModelSettings, call: ServiceCall): Promise<LoadedModel> {
    const started = performance.now();
    try {
      const lease = await this.#acquire(model, call, { signal: call.signal, ...settings });
      try {
        const { session } = lease;
        return {
          model: lease.model,
          loadMs: round(performance.now() - started),
          ...(lease.keepAliveMs !== undefined ? { keepAliveMs: lease.keepAliveMs } : {}),
          capabilities: session.capabilities,
          info: session.info,
        };
      } finally {
        lease.release();
      }
    } catch (e) {
      throw this.#reported(e, call);
    }
  }

  /** Unloads `model` once its leases are released; false when it was not loaded. */
  async unload(model: string): Promise<boolean> {
    try {
      return await this.#router.unload(model);
    } catch (e) {
      throw toLodeError(e);
    }
  }

  /** Every model in the store, and whether it is loaded. */
  async models(): Promise<ModelEntry[]> {
    try {
      return await this.#router.models();
    } catch (e) {
      throw toLodeError(e);
    }
  }

  /** Runs `body` with a lease on `model` (no admission), reporting failures. */
  async #op<T>(model: string, call: ServiceCall, body: (lease: Lease) => Promise<T>): Promise<T> {
    try {
      return await this.#withLease(model, call, call.signal, body);
    } catch (e) {
      throw this.#reported(e, call);
    }
  }

  async #admit(model: string, call: ServiceCall, op: InputOp): Promise<Admission> {
    try {
      return await this.#queue.admit({
        model: this.#router.nameOf?.(model) ?? model,
        key: call.key,
        signal: call.signal,
        onPosition: (position) => call.onWait?.({ type: "queued", position }),
      });
    } catch (e) {
      throw this.#reported(e, call, op);
    }
  }

  async #withLease<T>(
    model: string,
    call: ServiceCall,
    signal: AbortSignal,
    body: (lease: Lease) => Promise<T>,
  ): Promise<T> {
    const lease = await this.#leased(model, call, signal);
    try {
      return await body(lease);
    } finally {
      lease.release();
    }
  }

  /** A lease on `model` acquired under `signal`; rejects with the signal's reason when it was aborted meanwhile. */
  async #leased(model: string, call: ServiceCall, signal: AbortSignal): Promise<Lease> {
    const lease = await this.#acquire(model, call, {
      signal,
      ...(call.contextSize === undefined ? {} : { contextSize: call.contextSize }),
    });
    if (signal.aborted) {
      lease.release();
      throw signal.reason;
    }
    return lease;
  }

  /** Acquires `model`, telling the call each phase of its load while it waits (service_wait.ts). */
  #acquire(
    model: string,
    call: ServiceCall,
    options: Parameters<Router["acquire"]>[1] & { signal: AbortSignal },
  ): Promise<Lease> {
    return acquireTellingLoad(this.#router, model, call.onWait, options);
  }

  #reported(e: unknown, call: ServiceCall, op?: InputOp, admission?: AbortSignal): LodeError {
    return reported(e, [call.signal, admission], op === undefined ? undefined : INPUT_FIELD[op]);
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
