/**
 * The OpenAI-compatible HTTP front of the daemon (`lode serve --http
 * 127.0.0.1:PORT`; docs/protocol.md, "OpenAI-compatible HTTP"):
 * `GET /v1/models`, `GET /v1/models/{id}`, `POST /v1/completions`,
 * `POST /v1/chat/completions` (server-sent events with `stream: true`) and
 * `POST /v1/embeddings`.
 *
 * Every request becomes a protocol request (openai_translate.ts) run by
 * {@link handleRequest} with the router and admission queue the inference
 * socket uses, so both fronts share one bound and one set of loaded models:
 * `QUEUE_FULL` → 429, `DRAINING` → 503, a client that disconnects cancels
 * its request (waiting or running), and every request is reported to
 * `onActivity` (request id `cmpl-…`, `chatcmpl-…`, `embd-…`; `client` 0).
 * Errors are OpenAI's `{"error":{message,type,param,code}}` with lode's
 * stable code; an error after a stream has started is sent as a last
 * `data: {"error":…}` event. A stream's headers are sent with its first
 * token, so a request refused or failing before that gets a real status.
 *
 * The front has no accounts: it listens on loopback only (unless
 * `allowRemote`), refuses requests whose `Host` or `Origin` is not loopback
 * (DNS rebinding, web pages posting to localhost), and with `apiKey` wants
 * `Authorization: Bearer KEY`.
 * @module
 */
import { LodeError } from "../../errors.ts";
import { type ActivityRecord, activityRecord } from "../server/activity_log.ts";
import type { AdmissionQueue } from "../server/admission_queue.ts";
import { checkListenHost } from "./http_address.ts";
import { checkClient, readJsonBody } from "./http_intake.ts";
import { drainingError, InFlightSet } from "../server/in_flight.ts";
import {
  type Answer,
  chatBody,
  chunk,
  type ChunkKind,
  completionBody,
  embeddingsBody,
  errorBody,
  errorResponse,
  json,
  methodNotAllowed,
  modelObject,
  modelsBody,
  usageChunk,
} from "./openai_responses.ts";
import {
  badRequest,
  chatRequest,
  completionRequest,
  embeddingsRequest,
  type Translated,
} from "./openai_translate.ts";
import type { FrameOf, Request, RequestOf, ResponseFrame } from "../wire/protocol.ts";
import { type Handled, handleRequest, type ModelOp } from "../server/request_handler.ts";
import type { Router } from "../router/router.ts";
import { SSE_HEADERS, SseStream } from "./sse_stream.ts";

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
  /** Told about every finished request (the activity log). Must not throw or block. */
  onActivity?: (record: ActivityRecord) => void;
  /** Largest request body. Default 4 MiB (the socket's line limit). */
  maxBodyBytes?: number;
  /** Bytes queued to a streaming client before generation waits for it to read. Default 256 KiB. */
  maxPendingBytes?: number;
  /** Wall clock in milliseconds, for `created`. Default `Date.now`. */
  clock?: () => number;
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
  readonly #maxBody: number;
  #next = 1;
  #draining = false;

  constructor(options: OpenAiHttpOptions) {
    this.#o = options;
    this.#maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  }

  async handle(req: globalThis.Request): Promise<Response> {
    try {
      checkClient(req, {
        allowRemote: this.#o.allowRemote ?? false,
        ...(this.#o.apiKey === undefined ? {} : { apiKey: this.#o.apiKey }),
      });
      const path = new URL(req.url).pathname.replace(/\/+$/, "");
      if (path === "/v1/models" || path.startsWith("/v1/models/")) {
        if (req.method !== "GET") return methodNotAllowed("GET", path);
        return await this.#models(req, decodeURIComponent(path.slice("/v1/models/".length)));
      }
      const kind = GENERATIONS[path];
      if (kind === undefined && path !== "/v1/embeddings") {
        throw new LodeError(
          "UNKNOWN_OP",
          `no endpoint ${path}; this server has /v1/models, /v1/completions, /v1/chat/completions and /v1/embeddings`,
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
      const handled = await this.#run({ id: call.id, op: "models" }, call);
      const models = (handled.frames[0] as FrameOf<"models">).models;
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
    const head: Answer = { id: call.id, created: this.#created(), model: t.request.model, text: "" };
    if (!t.stream) {
      const parts: string[] = [];
      const done = this.#run(t.request, call, (f) => f.type === "token" && parts.push(f.text)).then((h) => {
        const answer = { ...head, text: parts.join(""), stopReason: h.stopReason, usage: h.usage };
        return json(200, kind === "chat" ? chatBody(answer) : completionBody(answer));
      });
      return done.finally(() => this.#end(call));
    }
    return new Promise<Response>((resolve) => {
      const sse = new SseStream({
        highWaterMark: this.#o.maxPendingBytes ?? 256 * 1024,
        onCancel: () => call.controller.abort(CLIENT_GONE()),
      });
      let started = false;
      const start = () => {
        if (started) return;
        started = true;
        if (kind === "chat") sse.send(chunk(kind, head, { first: true }));
        resolve(new Response(sse.body, { headers: SSE_HEADERS }));
      };
      const send = (f: ResponseFrame) => {
        if (f.type !== "token") return;
        start();
        sse.send(chunk(kind, { ...head, text: f.text }));
      };
      this.#run(t.request, call, send, () => sse.ready()).then(
        (h) => {
          start();
          const last = { ...head, stopReason: h.stopReason, usage: h.usage };
          sse.send(chunk(kind, last, { finish: true }));
          if (t.includeUsage) sse.send(usageChunk(kind, last));
          sse.send("[DONE]");
          sse.close();
        },
        (e) => {
          if (!started) return resolve(errorResponse(e));
          sse.send(errorBody(e).body);
          sse.close();
        },
      ).finally(() => this.#end(call));
    });
  }

  async #embeddings(req: globalThis.Request, body: unknown): Promise<Response> {
    const t = embeddingsRequest(body, this.#id("embd"));
    const call = this.#begin(req, t.request.id);
    try {
      const handled = await this.#run(t.request, call);
      const vectors = (handled.frames[0] as FrameOf<"embeddings">).embeddings;
      const size = vectors[0]?.length ?? 0;
      if (t.dimensions !== undefined && t.dimensions !== size) {
        throw badRequest(
          "dimensions",
          `${t.request.model} gives ${size}-dimensional embeddings, not ${t.dimensions}`,
        );
      }
      const inputs = typeof t.request.input === "string" ? [t.request.input] : t.request.input;
      const counts = await Promise.all(inputs.map(async (text, i) => {
        const request = { id: `${call.id}-t${i}`, op: "tokenize" as const, model: t.request.model, text };
        const h = await handleRequest(request, this.#context(call, () => {}));
        return (h.frames[0] as FrameOf<"tokens">).tokens.length;
      }));
      const promptTokens = counts.reduce((a, b) => a + b, 0);
      return json(
        200,
        embeddingsBody({ model: t.request.model, embeddings: vectors, promptTokens, base64: t.base64 }),
      );
    } finally {
      this.#end(call);
    }
  }

  /** Runs one protocol request and records it in the activity log. */
  async #run(
    request: RequestOf<ModelOp>,
    call: Call,
    send: (frame: ResponseFrame) => unknown = () => {},
    backpressure: () => Promise<void> = () => Promise.resolve(),
  ): Promise<Handled> {
    try {
      const handled = await handleRequest(request, this.#context(call, send, backpressure));
      this.#record(request, call, { ...handled.activity, outcome: "ok" });
      return handled;
    } catch (e) {
      // handleRequest rejects with the LodeError to report (the abort reason after a cancel or drain).
      this.#record(request, call, { outcome: "error", code: (e as LodeError).code });
      throw e;
    }
  }

  #context(call: Call, send: (frame: ResponseFrame) => unknown, backpressure = () => Promise.resolve()) {
    const { router, queue } = this.#o;
    return { router, queue, key: call.key, signal: call.controller.signal, send, backpressure };
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
    return `${prefix}-${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
  }

  #now(): number {
    return (this.#o.clock ?? Date.now)();
  }

  #created(): number {
    return Math.floor(this.#now() / 1000);
  }
}
