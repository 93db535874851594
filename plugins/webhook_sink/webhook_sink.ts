/**
 * The webhook sink: each event (of the types asked for) is POSTed to one URL as a Standard Webhooks
 * 1.0 message.
 *
 * - Body: `{"type":"<source>.<event>","timestamp":"<ISO 8601>","data":<the envelope>}`; the type is
 *   the envelope's source and its event's tag (`download.done`, `job.state`, `daemon.status`).
 * - Headers: `webhook-id` (`msg_…`, made once per message, the same on every retry),
 *   `webhook-timestamp` (the attempt's Unix seconds) and `webhook-signature`
 *   (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, signature.ts).
 * - At least once, in order: a message is spooled (spool.ts; one slot of the spool directory per
 *   running process, spool_slots.ts) before it is sent and leaves the spool
 *   when the receiver answers 2xx. Any other answer, a network error or a timeout is retried with
 *   exponential backoff and jitter, or after the receiver's `Retry-After` (retry_schedule.ts), for as
 *   long as the sink runs; what is left at close is delivered by the next run with the same spool.
 * - `410 Gone` disables the endpoint: its spool is cleared and a `gone` file left in the spool
 *   directory keeps later runs from sending to it until that file is removed.
 * - The URL obeys lode's network policy (a {@link HostPolicy}: https, plain http only for allowed
 *   hosts) and its trusted CAs (`clientFor`); redirects are not followed (a 3xx is a failure). With
 *   the policy offline, messages are only spooled.
 *
 * @example
 * ```ts
 * import { HostPolicy } from "../../src/download/host_policy.ts";
 * import { createWebhookSink } from "./webhook_sink.ts";
 * const url = "https://hooks.example.com/lode";
 * const sink = await createWebhookSink({
 *   url,
 *   secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
 *   events: ["download.done", "job.*"],
 *   policy: new HostPolicy().with([url]),
 *   spoolDir: await Deno.makeTempDir(),
 * });
 * await sink.close();
 * ```
 * @module
 */
import type { HostPolicy } from "../../src/download/host_policy.ts";
import { sleep } from "../../src/download/retry.ts";
import type { Envelope } from "../../src/events/envelope.ts";
import { LodeError } from "../../src/errors.ts";
import { joinPath } from "../../src/path.ts";
import type { EventSink } from "../../src/plugin/sink_runner.ts";
import { eventMatcher, eventType } from "./event_type.ts";
import { retryDelay, type RetrySchedule } from "./retry_schedule.ts";
import { importSecret, sign } from "./signature.ts";
import type { Spool, SpoolItem } from "./spool.ts";
import { openSpoolSlot } from "./spool_slots.ts";

/** Options of {@link createWebhookSink}. */
export interface WebhookSinkOptions {
  url: string;
  /** The `whsec_…` secret. */
  secret: string;
  /** Where the secret came from, for messages (`$LODE_WEBHOOK_SECRET`); never the secret itself. */
  secretSource?: string;
  /** Event types to send (`download.done`, `job.*`, `*`); every type when omitted. */
  events?: readonly string[];
  /** lode's network policy; the URL's host must be allowed (or named by the user: `policy.with([url])`). */
  policy: HostPolicy;
  /** The HTTP client for a URL (lode's trusted CAs, the proxy); Deno's default when omitted. */
  clientFor?: (url: URL) => Deno.HttpClient | undefined;
  /** The spool's directory (one per URL). */
  spoolDir: string;
  /** Undelivered bytes the spool keeps at most. Default 64 MiB. */
  maxSpoolBytes?: number;
  /** One attempt's time limit, milliseconds. Default 15000. */
  timeoutMs?: number;
  /** Backoff bounds. Default 1 s doubling up to 5 min. */
  retry?: RetrySchedule;
  /** How long `close()` keeps delivering what is waiting, milliseconds (0 while failing). Default 2000. */
  drainMs?: number;
  /** Failures, recoveries, drops and the endpoint's end, as lines for the operator. */
  onNotice?: (line: string) => void;
  random?: () => number;
  now?: () => number;
}

/** A webhook sink; `stats` counts its messages. */
export interface WebhookSink extends EventSink {
  readonly stats: { sent: number; failures: number; dropped: number; waiting: number; disabled: boolean };
}

const DEFAULTS = { maxSpoolBytes: 64 << 20, timeoutMs: 15_000, drainMs: 2000 };
const DEFAULT_RETRY: RetrySchedule = { baseMs: 1000, maxMs: 300_000 };

type Attempt = { kind: "ok" } | { kind: "gone" } | { kind: "retry"; why: string; retryAfter: string | null };

/** Opens the spool and starts delivering (see the module doc). Throws policy and secret errors. */
export async function createWebhookSink(options: WebhookSinkOptions): Promise<WebhookSink> {
  const url = new URL(options.url);
  if (url.username || url.password) {
    throw new LodeError(
      "USAGE",
      `the webhook URL ${url.host} carries credentials: sign with the secret instead`,
    );
  }
  if (!options.policy.offline) options.policy.check(url);
  const key = await importSecret(options.secret, options.secretSource);
  const name = `webhook ${url.origin}${url.pathname}`;
  const spool = await openSpoolSlot(options.spoolDir, {
    maxBytes: options.maxSpoolBytes ?? DEFAULTS.maxSpoolBytes,
  });
  const gone = joinPath(options.spoolDir, "gone");
  const disabled = await exists(gone);
  if (disabled) {
    options.onNotice?.(`${name} answered 410 Gone earlier: not sending to it (remove ${gone} to send again)`);
  }
  return new Webhook(name, url, key, spool, gone, disabled, options);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

class Webhook implements WebhookSink {
  readonly #matches: (type: string) => boolean;
  readonly #stop = new AbortController();
  readonly #now: () => number;
  #wake: (() => void) | null = null;
  #failures = 0;
  #accepting = true;
  #flushScheduled = false;
  readonly #loop: Promise<void>;
  readonly stats = { sent: 0, failures: 0, dropped: 0, waiting: 0, disabled: false };

  constructor(
    readonly name: string,
    readonly url: URL,
    readonly key: CryptoKey,
    readonly spool: Spool,
    readonly gonePath: string,
    disabled: boolean,
    readonly options: WebhookSinkOptions,
  ) {
    this.#matches = eventMatcher(options.events);
    this.#now = options.now ?? Date.now;
    this.stats.disabled = disabled;
    this.stats.waiting = spool.length;
    this.#stop.signal.addEventListener("abort", () => this.#poke(), { once: true });
    // A spool that cannot be written stops delivery (what it holds stays for the next run), never the process.
    this.#loop = disabled || options.policy.offline ? Promise.resolve() : this.#deliver().catch((e) => {
      this.#notice(`delivery stopped: ${(e as Error).message}`);
    });
  }

  event(envelope: Envelope): void {
    if (!this.#accepting || this.stats.disabled) return;
    const type = eventType(envelope);
    // A gap in the stream is always reported; other events only when their type was asked for.
    if (envelope.source !== "stream" && !this.#matches(type)) return;
    const body = JSON.stringify({ type, timestamp: new Date(envelope.time).toISOString(), data: envelope });
    const item: SpoolItem = { id: `msg_${crypto.randomUUID().replaceAll("-", "")}`, body };
    if (!this.spool.add(item)) {
      if (this.stats.dropped++ === 0) {
        this.#notice(`spool full (${this.spool.length} waiting): dropping events`);
      }
      return;
    }
    this.stats.waiting = this.spool.length;
    this.#scheduleFlush();
    this.#poke();
  }

  /** Writes this burst's messages to disk once the burst is over (a crash then loses none of them). */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setTimeout(() => {
      this.#flushScheduled = false;
      this.spool.flush().catch((e) => this.#notice(`cannot write the spool: ${(e as Error).message}`));
    }, 0);
  }

  async close(): Promise<void> {
    if (!this.#accepting) return;
    this.#accepting = false;
    await this.spool.flush();
    // Delivers what is waiting for at most `drainMs` (not at all while the endpoint is failing); the rest
    // stays spooled for the next run.
    const drainMs = this.#failures > 0 ? 0 : this.options.drainMs ?? DEFAULTS.drainMs;
    const drain = setTimeout(() => this.#stop.abort(), drainMs);
    this.#poke();
    try {
      await this.#loop;
    } finally {
      clearTimeout(drain);
      this.#stop.abort();
      await this.spool.close();
    }
    if (this.spool.length > 0) {
      this.#notice(`${this.spool.length} event(s) not delivered yet: kept in ${this.options.spoolDir}`);
    }
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #notice(line: string): void {
    try {
      this.options.onNotice?.(`${this.name}: ${line}`);
    } catch {
      // The operator's channel failing is no reason to stop delivering.
    }
  }

  /** The delivery loop: the oldest message until it is delivered, then the next. */
  async #deliver(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const item = this.spool.first;
      if (!item) {
        if (!this.#accepting) return;
        await new Promise<void>((resolve) => this.#wake = resolve);
        continue;
      }
      await this.spool.flush();
      const attempt = await this.#send(item, signal);
      if (signal.aborted) return;
      if (attempt.kind === "ok") {
        if (this.#failures > 0) this.#notice(`delivering again after ${this.#failures} failed attempt(s)`);
        this.#failures = 0;
        this.stats.sent++;
        await this.spool.ack();
        this.stats.waiting = this.spool.length;
        continue;
      }
      if (attempt.kind === "gone") {
        this.stats.disabled = true;
        await Deno.writeTextFile(this.gonePath, `${this.url.href}\n${new Date(this.#now()).toISOString()}\n`);
        this.#notice(`answered 410 Gone: endpoint disabled, ${this.spool.length} event(s) discarded`);
        await this.spool.clear();
        this.stats.waiting = 0;
        return;
      }
      this.#failures++;
      this.stats.failures++;
      const delay = retryDelay(this.#failures, this.options.retry ?? DEFAULT_RETRY, {
        retryAfter: attempt.retryAfter,
        random: this.options.random,
        now: this.#now(),
      });
      if (this.#failures === 1) {
        this.#notice(`${attempt.why}; retrying (next in ${delay} ms, ${this.spool.length} waiting)`);
      }
      await sleep(delay, signal).catch(() => {}); // stopped: the loop sees the signal
    }
  }

  async #send(item: SpoolItem, stop: AbortSignal): Promise<Attempt> {
    const timestamp = Math.floor(this.#now() / 1000);
    const signature = await sign(this.key, item.id, timestamp, item.body);
    const signal = AbortSignal.any([stop, AbortSignal.timeout(this.options.timeoutMs ?? DEFAULTS.timeoutMs)]);
    try {
      const response = await fetch(this.url, {
        method: "POST",
        redirect: "manual",
        headers: {
          "content-type": "application/json",
          "webhook-id": item.id,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": signature,
        },
        body: item.body,
        signal,
        client: this.options.clientFor?.(this.url),
      });
      await response.body?.cancel();
      if (response.status >= 200 && response.status < 300) return { kind: "ok" };
      if (response.status === 410) return { kind: "gone" };
      return {
        kind: "retry",
        why: `HTTP ${response.status}`,
        retryAfter: response.headers.get("retry-after"),
      };
    } catch (e) {
      return { kind: "retry", why: (e as Error).message, retryAfter: null };
    }
  }
}
