/**
 * A real HTTPS webhook receiver for tests: `Deno.serve` on 127.0.0.1 with a test CA's leaf
 * certificate, checking each request's Standard Webhooks signature itself (node:crypto's HMAC, not
 * lode's code) and answering what the test's `respond` says (204 by default). It can stop and start
 * again on the same port (a receiver that is down, then back).
 *
 * @example
 * ```ts
 * import { makeTestCa } from "./test_ca.ts";
 * import { startWebhookReceiver } from "./webhook_receiver.ts";
 * const ca = await makeTestCa(await Deno.makeTempDir());
 * const receiver = await startWebhookReceiver({ tls: ca, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" });
 * console.log(receiver.url, receiver.received.length);
 * await receiver.stop();
 * ```
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** One request as the receiver saw it. */
export interface ReceivedWebhook {
  id: string;
  timestamp: number;
  signature: string;
  body: string;
  /** True when one of the `v1,` signatures matches the body under the secret. */
  valid: boolean;
  /** The status answered. */
  status: number;
  /** `Date.now()` on arrival. */
  time: number;
}

/** What to answer: a status and headers. */
export interface WebhookAnswer {
  status: number;
  headers?: Record<string, string>;
}

/** Options of {@link startWebhookReceiver}. */
export interface WebhookReceiverOptions {
  tls: { certPem: string; keyPem: string };
  secret: string;
  /** The answer to a request (called after the signature check); 204 when omitted. */
  respond?: (request: ReceivedWebhook, index: number) => WebhookAnswer;
  /** Port to bind (default: an ephemeral one). */
  port?: number;
}

/** A running (or stopped) receiver. */
export interface WebhookReceiver {
  /** `https://127.0.0.1:PORT/hook`. */
  url: string;
  port: number;
  /** Every request, in arrival order (kept across stop and start). */
  received: ReceivedWebhook[];
  /** Stops listening (connections refused until `start`). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): void;
}

/** The signature of Standard Webhooks, computed independently of lode's implementation. */
export function expectedSignature(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
}

/** Starts a receiver (see the module doc). */
export function startWebhookReceiver(options: WebhookReceiverOptions): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let server: Deno.HttpServer | null = null;
  const ready = Promise.withResolvers<number>();
  const handler = async (request: Request): Promise<Response> => {
    const body = await request.text();
    const id = request.headers.get("webhook-id") ?? "";
    const timestamp = Number(request.headers.get("webhook-timestamp"));
    const signature = request.headers.get("webhook-signature") ?? "";
    const want = Buffer.from(expectedSignature(options.secret, id, timestamp, body));
    const valid = signature.split(" ").some((s) => {
      const [version, value = ""] = s.split(",");
      const got = Buffer.from(value);
      return version === "v1" && got.length === want.length && timingSafeEqual(got, want);
    });
    const entry: ReceivedWebhook = { id, timestamp, signature, body, valid, status: 0, time: Date.now() };
    const answer = options.respond?.(entry, received.length) ?? { status: 204 };
    entry.status = answer.status;
    received.push(entry);
    return new Response(null, { status: answer.status, headers: answer.headers });
  };
  let port = options.port ?? 0;
  const listen = () => {
    server = Deno.serve({
      hostname: "127.0.0.1",
      port,
      cert: options.tls.certPem,
      key: options.tls.keyPem,
      onListen: (addr) => ready.resolve(addr.port),
    }, handler);
  };
  listen();
  return ready.promise.then((bound) => {
    port = bound;
    return {
      url: `https://127.0.0.1:${bound}/hook`,
      port: bound,
      received,
      async stop() {
        const s = server;
        server = null;
        await s?.shutdown();
      },
      start() {
        if (!server) listen();
      },
    };
  });
}
