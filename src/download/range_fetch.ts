/**
 * One byte range of a parallel download: `GET` with `Range` (and `If-Range`,
 * so a changed file is never mixed with the old one), the `206` and its
 * `Content-Range` checked exactly, the body written at the part's offset in the
 * partial file through its own file handle ({@link writeBody}), and a stall
 * watchdog that aborts the request when no byte arrives for `stallMs` (a timer
 * that looks at the byte count a few times per `stallMs`, none per read).
 *
 * The part's `done` counter advances only as bytes reach the file, so a retry
 * (or a later resume) continues exactly where the data ends.
 * @module
 */
import { LodeError } from "../errors.ts";
import { fetchSender, type SendRequest, transportError } from "./http_get.ts";
import { BATCH_BYTES, BatchPool, writeBody } from "./part_body.ts";
import type { PartState } from "./resume_state.ts";
import type { WaitClock } from "./wait_clock.ts";

/** Batch buffers when the caller brings no pool. */
const DEFAULT_POOL = new BatchPool(BATCH_BYTES);

/** Options of {@link fetchRange}. */
export interface RangeFetchOptions {
  /** The resolved URL of the file (after redirects). */
  url: URL;
  /** The part to complete; its `done` advances as bytes are written. */
  part: PartState;
  /** The partial file (already created). */
  file: string;
  /** The file's full size, as the probe found it. */
  size: number;
  /** `If-Range` validator: a strong ETag or a Last-Modified date. */
  validator: string | null;
  /** The HTTP client for a URL (extra CAs, the proxy that applies to its host); Deno's default when omitted. */
  clientFor?: (url: URL) => Deno.HttpClient | undefined;
  /** Sends one GET without following redirects; `fetch` with `clientFor`'s client when omitted. */
  send?: SendRequest;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Abort the request when no byte arrives for this long. */
  stallMs: number;
  /** Where the batch buffers come from (one per connection at a time). */
  pool?: BatchPool;
  /** Counts the time spent waiting for the body's bytes. */
  waited?: WaitClock;
  /** Bytes received (for progress), called per read. */
  onBytes?: (delta: number) => void;
  /** The part's `done` advanced (bytes reached the file). */
  onWritten?: () => void;
  /** Sees each batch with its absolute file offset before it is written (the hashing frontier). */
  onBatch?: (bytes: Uint8Array, offset: number) => void;
  /** An answer already received for exactly this range (the probe's): used instead of a new request. */
  response?: Response;
  /** Aborts `response`'s request (it was opened with another signal); called on a stall. */
  abortResponse?: () => void;
}

/** Why a range answer cannot be used: the origin changed or ignores ranges, or the URL needs resolving again. */
export type RangeRefusal = "origin_changed" | "reresolve";

/** Fetches the rest of `options.part`. Throws typed errors; `details.refusal` marks {@link RangeRefusal}s. */
export async function fetchRange(options: RangeFetchOptions): Promise<void> {
  const { part, url } = options;
  const from = part.start + part.done;
  const to = part.end - 1;
  if (from > to) return;
  const abort = new AbortController();
  // Ends the request, whichever signal it was opened with (the probe's has its own).
  const stop = (reason?: unknown) => {
    abort.abort(reason);
    options.abortResponse?.();
  };
  let stalled = false;
  // The watchdog: a few looks per stallMs at the byte count, none per read.
  let received = 0;
  let seen = -1;
  let quietSince = performance.now();
  const watchdog = setInterval(() => {
    const now = performance.now();
    if (received !== seen) {
      seen = received;
      quietSince = now;
    } else if (now - quietSince >= options.stallMs) {
      stalled = true;
      stop();
    }
  }, Math.max(10, Math.min(1000, options.stallMs / 4)));
  const onOuterAbort = () => stop(options.signal?.reason);
  options.signal?.addEventListener("abort", onOuterAbort, { once: true });
  if (options.signal?.aborted) onOuterAbort();
  try {
    const headers: Record<string, string> = { ...options.headers, range: `bytes=${from}-${to}` };
    if (options.validator) headers["if-range"] = options.validator;
    const response = options.response ??
      await (options.send ?? fetchSender(options.clientFor))(url, { headers, signal: abort.signal });
    seen = -1;
    checkRangeResponse(response, url, from, to, options.size);
    const expected = to - from + 1;
    const doneBefore = part.done;
    using out = await Deno.open(options.file, { write: true });
    await out.seek(from, Deno.SeekMode.Start);
    try {
      await writeBody(response.body!, {
        file: out,
        offset: from,
        expected,
        pool: options.pool ?? DEFAULT_POOL,
        waited: options.waited,
        onRead: (total) => {
          options.onBytes?.(total - received);
          received = total;
        },
        onBatch: options.onBatch,
        onWritten: (written) => {
          part.done = doneBefore + written;
          options.onWritten?.();
        },
      });
    } catch (e) {
      // The body was not read to its end (a write failed, the stream broke): free its connection.
      stop();
      throw e;
    }
    if (received !== expected) {
      throw new LodeError(
        "SIZE_MISMATCH",
        `${url.host} sent ${received} of ${expected} bytes for range ${from}-${to}`,
        {
          details: {
            url: url.href,
            range: `${from}-${to}`,
            received_bytes: received,
            expected_bytes: expected,
          },
        },
      );
    }
  } catch (e) {
    if (stalled) {
      throw new LodeError("STALLED", `no bytes from ${url.host} for ${options.stallMs / 1000} s`, {
        details: { url: url.href, range: `${from}-${to}`, stall_ms: options.stallMs },
      });
    }
    throw transportError(e, url);
  } finally {
    clearInterval(watchdog);
    options.signal?.removeEventListener("abort", onOuterAbort);
  }
}

function checkRangeResponse(response: Response, url: URL, from: number, to: number, size: number): void {
  const details = { url: url.href, status: response.status, range: `${from}-${to}` };
  if (response.status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
    if (m && Number(m[1]) === from && Number(m[2]) === to && (m[3] === "*" || Number(m[3]) === size)) return;
    response.body?.cancel();
    throw new LodeError(
      "HTTP_STATUS",
      `${url.host} answered range ${from}-${to} with Content-Range "${
        response.headers.get("content-range")
      }"`,
      { details: { ...details, content_range: response.headers.get("content-range") } },
    );
  }
  response.body?.cancel();
  if (response.status === 200) {
    throw new LodeError("ORIGIN_CHANGED", `${url.host} sent the whole file instead of a range: it changed`, {
      details: { ...details, refusal: "origin_changed" satisfies RangeRefusal },
    });
  }
  if ([301, 302, 303, 307, 308, 401, 403].includes(response.status)) {
    throw new LodeError("HTTP_STATUS", `${url.host} answered ${response.status} to a range request`, {
      details: { ...details, refusal: "reresolve" satisfies RangeRefusal },
    });
  }
  throw new LodeError(
    response.status === 404 ? "HTTP_NOT_FOUND" : "HTTP_STATUS",
    `${url.host} answered HTTP ${response.status} to range ${from}-${to}`,
    { details: { ...details, retry_after: response.headers.get("retry-after") ?? undefined } },
  );
}
