/**
 * The OpenAI-compatible HTTP front of the daemon (`lode serve --http
 * 127.0.0.1:PORT`; docs/protocol.md, "OpenAI-compatible HTTP"):
 * `GET /v1/models`, `GET /v1/models/{id}`, `POST /v1/completions`,
 * `POST /v1/chat/completions` (server-sent events with `stream: true`),
 * `POST /v1/responses` (responses_api.ts) and `POST /v1/embeddings`
 * (openai_embeddings.ts); with `batchApi`, `/v1/files` and `/v1/batches`
 * (`createBatchApi` of daemon/batch/batches_api.ts, given by the daemon).
 *
 * Every request is checked and translated (openai_translate.ts) and run by
 * the {@link InferenceService} over the router and admission queue the
 * inference socket uses, so both fronts share one bound and one set of
 * loaded models; its typed answers are encoded here in OpenAI's shapes
 * (openai_responses.ts):
 * `QUEUE_FULL` → 429, `DRAINING` → 503, a client that disconnects cancels
 * its request (waiting or running), and every request is reported to
 * `onActivity` (request id `cmpl-…`, `chatcmpl-…`, `embd-…`; `client` 0).
 * Errors are OpenAI's `{"error":{message,type,param,code}}` with lode's
 * stable code; an error after a stream has started is sent as a last
 * `data: {"error":…}` event. A stream's headers are sent with its first
 * token, so a request refused or failing before that gets a real status.
 *
 * The front has no accounts: it listens on loopback only (unless
 * `allowRemote`), refuses requests whose `Host` is not loopback (DNS
 * rebinding) or whose `Origin` is neither loopback nor in `allowOrigins`
 * (web pages posting to localhost), answers allowed origins with CORS
 * headers and preflights (cors.ts), and with `apiKey` wants
 * `Authorization: Bearer KEY`. Every answer carries an `x-request-id`.
 * @module
 */
import { LodeError, toLodeError } from "../../errors.ts";
import { type ActivityRecord, activityRecord } from "../server/activity_log.ts";
import type { AdmissionQueue } from "../server/admission_queue.ts";
import { checkListenHost } from "./http_address.ts";
import { checkClient, readJsonBody } from "./http_intake.ts";
import { allowedOrigins, options as optionsAnswer, preflight, withCors } from "./cors.ts";
import { answerResponses } from "./responses_api.ts";
import { responsesRequest } from "./responses_request.ts";
import { drainingError, InFlightSet } from "../server/in_flight.ts";
import { errorResponse, json, methodNotAllowed } from "./error_response.ts";
import { type ChunkKind, modelObject, modelsBody } from "./openai_responses.ts";
import { chatRequest, completionRequest, embeddingsRequest, type Translated } from "./openai_translate.ts";
import type { Request, RequestOf } from "../wire/protocol.ts";
import { InferenceService, type ServiceCall } from "../server/inference_service.ts";
import { answerGeneration, type Ran } from "./openai_generation.ts";
import { answerEmbeddings } from "./openai_embeddings.ts";
import { answerCompletionBatch } from "./completions_batch.ts";
import type { Router } from "../router/router.ts";

/** An API the front routes a set of paths to (the Files and Batch APIs). */
export interface MountedApi {
  /** True for the paths it answers. */
  serves(path: string): boolean;
  /** Answers a request for such a `path`; throws errors for the front to encode. */
  handle(req: globalThis.Request, path: string): Promise<Response>;
}

/** Options of {@link startOpenAiHttp}. */
export interface OpenAiHttpOptions {
  /** A loopback address unless `allowRemote` (`127.0.0.1`, `::1`, `localhost`). */
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  router: Router;
  queue: AdmissionQueue;
  /** Listen on a non-loopback address and accept any `Host`/`Origin`. Default false. */
  allowRemote?: boolean;
  /** When set, requests need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Web origins allowed besides loopback ones (`--allow-origin`; normalized, cors.ts `parseOrigins`). */
  allowOrigins?: readonly string[];
  /** Told about every finished request (the activity log). Must not throw or block. */
  onActivity?: (record: ActivityRecord) => void;
  /** Largest request body. Default 4 MiB (the socket's line limit). */
  maxBodyBytes?: number;
  /** Bytes queued to a streaming client before generation waits for it to read. Default 256 KiB. */
  maxPendingBytes?: number;
  /** Wall clock in milliseconds, for `created`. Default `Date.now`. */
  clock?: () => number;
  /** The Files and Batch APIs (`/v1/files`, `/v1/batches`; daemon/batch), when the daemon runs jobs. */
  batchApi?: MountedApi;
}

/** A running HTTP front. */
export interface OpenAiHttp {
  /** The API's base URL, `http://HOST:PORT/v1` (what `new OpenAI({ baseURL })` takes). */
  readonly url: string;
  readonly hostname: string;
  readonly port: number;
  /** Requests being handled now. */
  readonly inFlight: number;
  /**
   * Refuses new requests with 503 `DRAINING` and waits for those in flight; after `graceMs` the rest are
   * stopped with `DRAINING`. Resolves with how many had to be stopped.
   */
  drain(options: { graceMs: number }): Promise<number>;
  /** Stops what is in flight (`DRAINING`) and closes the listener. */
  close(): Promise<void>;
}

const CLIENT_GONE = () => new LodeError("CANCELLED", "the HTTP client closed its connection");
const GENERATIONS: Record<string, ChunkKind> = {
  "/v1/completions": "completion",
  "/v1/chat/completions": "chat",
};
const ENDPOINTS = new Set(["/v1/completions", "/v1/chat/completions", "/v1/responses", "/v1/embeddings"]);

interface Call {
  id: string;
  key: string;
  controller: AbortController;
  received: number;
  /** Stops listening to the request's signal (Deno aborts it after a successful response too). */
  detach: () => void;
}

/**
 * Starts the HTTP front (listening when it returns); throws `LodeError("USAGE")` for a non-loopback host
 * without `allowRemote`, or an address in use.
 */
export function startOpenAiHttp(options: OpenAiHttpOptions): OpenAiHttp {
  checkListenHost(options.hostname, { allowRemote: options.allowRemote ?? false });
  const front = new Front(options);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      { hostname: options.hostname, port: options.port, onListen: () => {} },
      (req) => front.handle(req),
    );
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse || e instanceof Deno.errors.AddrNotAvailable) {
      throw new LodeError("USAGE", `--http ${options.hostname}:${options.port}: ${(e as Error).message}`, {
        details: { hostname: options.hostname, port: options.port },
        hint: "Pick another port (--http 127.0.0.1:PORT), or stop what listens there.",
        cause: e,
      });
    }
    throw e;
  }
  const { hostname, port } = server.addr;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${host}:${port}/v1`,
    hostname,
    port,
    get inFlight() {
      return front.calls.size;
    },
    drain: (o) => front.drain(o.graceMs),
    close: async () => {
      front.stopAll(new LodeError("DRAINING", "the daemon is shutting down"));
      await server.shutdown();
    },
  };
}

class Front {
  readonly calls = new InFlightSet<Call>();
  readonly #o: OpenAiHttpOptions;
  readonly #service: InferenceService;
  readonly #maxBody: number;
  readonly #allowOrigin: (origin: string) => boolean;
  #next = 1;
  #draining = false;

  constructor(options: OpenAiHttpOptions) {
    this.#o = options;
    this.#service = new InferenceService({ router: options.router, queue: options.queue });
    this.#maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
    this.#allowOrigin = allowedOrigins(options.allowOrigins ?? []);
  }

  /** Answers `req`: its `x-request-id`, and CORS headers when it comes from an allowed web page. */
  async handle(req: globalThis.Request): Promise<Response> {
    const requestId = this.#id("req_");
    const origin = req.headers.get("origin");
    const response = await this.#answer(req);
    response.headers.set("x-request-id", requestId);
    return withCors(response, origin !== null && this.#allowOrigin(origin) ? origin : null);
  }

  async #answer(req: globalThis.Request): Promise<Response> {
    try {
      const preflighting = req.method === "OPTIONS";
      checkClient(req, {
        allowRemote: this.#o.allowRemote ?? false,
        allowOrigin: this.#allowOrigin,
        // A browser's preflight carries no credentials.
        ...(this.#o.apiKey === undefined || preflighting ? {} : { apiKey: this.#o.apiKey }),
      });
      if (preflighting) {
        const origin = req.headers.get("origin");
        return origin !== null && this.#allowOrigin(origin) ? preflight(req, origin) : optionsAnswer();
      }
      const path = new URL(req.url).pathname.replace(/\/+$/, "");
      if (path === "/v1/models" || path.startsWith("/v1/models/")) {
        if (req.method !== "GET") return methodNotAllowed("GET", path);
        return await this.#models(req, decodeURIComponent(path.slice("/v1/models/".length)));
      }
      const api = this.#o.batchApi;
      if (api?.serves(path)) {
        if (this.#draining && req.method !== "GET") throw drainingError();
        return await api.handle(req, path);
      }
      const kind = GENERATIONS[path];
      if (!ENDPOINTS.has(path)) {
        throw new LodeError(
          "UNKNOWN_OP",
          `no endpoint ${path}; this server has /v1/models, /v1/completions, /v1/chat/completions, ` +
            `/v1/responses${api ? ", /v1/embeddings, /v1/files and /v1/batches" : " and /v1/embeddings"}`,
          { details: { path } },
        );
      }
      if (req.method !== "POST") return methodNotAllowed("POST", path);
      if (this.#draining) throw drainingError();
      const body = await readJsonBody(req, this.#maxBody);
      if (kind === "chat") return await this.#generate(req, kind, chatRequest(body, this.#id("chatcmpl")));
      if (kind === "completion") {
        return await this.#generate(req, kind, completionRequest(body, this.#id("cmpl")));
      }
      if (path === "/v1/responses") return await this.#responses(req, body);
      return await this.#embeddings(req, body);
    } catch (e) {
      return errorResponse(e);
    }
  }

  drain(graceMs: number): Promise<number> {
    this.#draining = true;
    return this.calls.drain(graceMs, (reason) => this.stopAll(reason));
  }

  stopAll(reason: LodeError): void {
    this.#draining = true;
    for (const call of this.calls.values()) {
      this.#o.queue.cancel(call.key, reason);
      call.controller.abort(reason);
    }
  }

  async #models(req: globalThis.Request, name: string): Promise<Response> {
    const call = this.#begin(req, this.#id("models"));
    try {
      const models = await this.#run({ id: call.id, op: "models" }, call, async () => ({
        value: await this.#service.models(),
        activity: {},
      }));
      const created = this.#created();
      if (name === "") return json(200, modelsBody(models, created));
      const entry = models.find((m) => m.name === name);
      if (!entry) {
        throw new LodeError("MODEL_NOT_FOUND", `no model named ${name}`, { details: { model: name } });
      }
      return json(200, modelObject(entry, created));
    } finally {
      this.#end(call);
    }
  }

  #generate(
    req: globalThis.Request,
    kind: ChunkKind,
    t: Translated<RequestOf<"generate" | "chat">>,
  ): Promise<Response> {
    const call = this.#begin(req, t.request.id);
    const answer = t.prompts === undefined ? answerGeneration : answerCompletionBatch;
    return answer({
      service: this.#service,
      kind,
      translated: t,
      head: { id: call.id, created: this.#created(), model: t.request.model, text: "" },
      call: this.#call(call),
      run: (body) => this.#run(t.request, call, body),
      maxPendingBytes: this.#o.maxPendingBytes ?? 256 * 1024,
      onCancel: () => call.controller.abort(CLIENT_GONE()),
      onEnd: () => this.#end(call),
    });
  }

  #responses(req: globalThis.Request, body: unknown): Promise<Response> {
    const translated = responsesRequest(body, this.#id("resp_"));
    const call = this.#begin(req, translated.chat.request.id);
    return answerResponses({
      service: this.#service,
      translated,
      id: call.id,
      createdAt: this.#created(),
      call: this.#call(call),
      run: (run) => this.#run(translated.chat.request, call, run),
      toolCalls: (result) => result.toolCalls ?? [],
      maxPendingBytes: this.#o.maxPendingBytes ?? 256 * 1024,
      onCancel: () => call.controller.abort(CLIENT_GONE()),
      onEnd: () => this.#end(call),
    });
  }

  #embeddings(req: globalThis.Request, body: unknown): Promise<Response> {
    const translated = embeddingsRequest(body, this.#id("embd"));
    const call = this.#begin(req, translated.request.id);
    return answerEmbeddings({
      service: this.#service,
      translated,
      call: this.#call(call),
      run: (run) => this.#run(translated.request, call, run),
      onEnd: () => this.#end(call),
    });
  }

  /** Runs one request's `body` and records it in the activity log. */
  async #run<T>(request: Request, call: Call, body: () => Promise<Ran<T>>): Promise<T> {
    try {
      const { value, activity } = await body();
      this.#record(request, call, { ...activity, outcome: "ok" });
      return value;
    } catch (e) {
      // The service rejects with the LodeError to report (the abort reason after a cancel or drain).
      const error = toLodeError(e);
      this.#record(request, call, { outcome: "error", code: error.code });
      throw error;
    }
  }

  /** The request as the inference service sees it (the front tells no one how it waits). */
  #call(call: Call): ServiceCall {
    return { key: call.key, signal: call.controller.signal };
  }

  /**
   * Registers a request; its client leaving (`req.signal`) cancels it. deno.json enables
   * `no-legacy-abort`, so the signal aborts only when the client goes away, not after every successful
   * response (and Deno does not print its legacy-behaviour warning); `#end` detaches either way.
   */
  #begin(req: globalThis.Request, id: string): Call {
    const controller = new AbortController();
    const onAbort = () => controller.abort(CLIENT_GONE());
    const call: Call = {
      id,
      key: `http/${this.#next++}`,
      controller,
      received: performance.now(),
      detach: () => req.signal.removeEventListener("abort", onAbort),
    };
    if (req.signal.aborted) onAbort();
    else req.signal.addEventListener("abort", onAbort, { once: true });
    this.calls.add(call);
    return call;
  }

  #end(call: Call): void {
    call.detach();
    this.calls.delete(call);
  }

  #record(request: Request, call: Call, fields: Partial<ActivityRecord>): void {
    if (this.#o.onActivity === undefined) return; // no log: no record to build
    const record = activityRecord(request, {
      requestId: call.id,
      client: 0,
      received: call.received,
      now: this.#now(),
      fields,
    });
    try {
      this.#o.onActivity(record);
    } catch { /* the log must not break a request */ }
  }

  #id(prefix: string): string {
    const separator = prefix.endsWith("_") ? "" : "-";
    return `${prefix}${separator}${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
  }

  #now(): number {
    return (this.#o.clock ?? Date.now)();
  }

  #created(): number {
    return Math.floor(this.#now() / 1000);
  }
}
