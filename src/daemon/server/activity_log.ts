/**
 * The daemon's activity log: one NDJSON line per request (request id,
 * connection, op, model, queue wait, token counts, durations, outcome and
 * error code), appended to a file and rotated by size (`log` → `log.1` → …
 * → `log.N`, the oldest dropped). Prompts, messages and generated text are
 * written only with `logPrompts` (`lode serve --log-prompts`); otherwise
 * those fields are removed before a record is encoded.
 *
 * Writing never blocks request handling: {@link ActivityLog.write} only
 * queues the record's line, and one background writer appends what is queued
 * every `flushMs` (10 ms by default) in one write: one encoding and one
 * write for hundreds of records under load (a write per burst cost a `tokenize`
 * flood twice the daemon's CPU per request). A process killed with SIGKILL loses the
 * records not yet written: normally those of the last interval. When the
 * disk cannot keep up, at most `maxPendingRecords` wait and the newest are
 * dropped (counted in {@link ActivityLog.dropped}). A failing
 * write (disk full, file removed…) is reported once through `onError`; the
 * log then keeps trying with later records.
 * @module
 */
import { parentDir } from "../../path.ts";

/**
 * One request as the activity log records it. Times are milliseconds.
 *
 * @example
 * ```ts
 * import type { ActivityRecord } from "./activity_log.ts";
 * const r: ActivityRecord = { time: "2026-05-18T10:00:00Z", request_id: "g1", client: 1, op: "generate", outcome: "ok", duration_ms: 41 };
 * ```
 */
export interface ActivityRecord {
  /** When the request ended (ISO 8601). */
  time: string;
  request_id: string;
  /** The connection's number (since the daemon started): requests of one client share it. */
  client: number;
  op: string;
  model?: string;
  /** `ok`, or `error` with `code`. */
  outcome: "ok" | "error";
  code?: string;
  queue_ms?: number;
  prompt_tokens?: number;
  completion_tokens?: number;
  /** Texts embedded, tokens returned by tokenize. */
  count?: number;
  time_to_first_token_ms?: number | null;
  tokens_per_second?: number;
  stop_reason?: string;
  /** From the request's line being read to its last frame being queued. */
  duration_ms: number;
  /** Only with `logPrompts`. */
  prompt?: string;
  /** Only with `logPrompts`. */
  messages?: unknown;
  /** Only with `logPrompts`: generated text, or the embedded / tokenized inputs. */
  output?: unknown;
}

/**
 * The record of a request that ended now: `fields` (what the handler
 * reported; `outcome` defaults to `error`) over the request's op and model,
 * with the duration since `received` (a `performance.now()` time).
 *
 * @example
 * ```ts
 * import { activityRecord } from "./activity_log.ts";
 * const received = performance.now();
 * activityRecord({ op: "tokenize", model: "stories260K" }, { requestId: "t1", client: 1, received, fields: { outcome: "ok" } });
 * ```
 */
export function activityRecord(
  request: { op: string; model?: string },
  options: {
    requestId: string;
    client: number;
    received: number;
    now?: number;
    fields: Partial<ActivityRecord>;
  },
): ActivityRecord {
  return {
    time: isoTime(options.now ?? Date.now()),
    request_id: options.requestId,
    client: options.client,
    op: request.op,
    ...(request.model !== undefined ? { model: request.model } : {}),
    outcome: "error",
    ...options.fields,
    duration_ms: Math.round((performance.now() - options.received) * 1000) / 1000,
  };
}

let lastMs = NaN;
let lastIso = "";

/** `ms` as ISO 8601, formatted once per millisecond: a flood's records share most of theirs. */
function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}

/** A record without the fields written only with `logPrompts`. */
function withoutPrivate(record: ActivityRecord): ActivityRecord {
  if (record.prompt === undefined && record.messages === undefined && record.output === undefined) {
    return record;
  }
  const { prompt: _prompt, messages: _messages, output: _output, ...rest } = record;
  return rest;
}

/**
 * Options of {@link ActivityLog.open}.
 *
 * @example
 * ```ts
 * import type { ActivityLogOptions } from "./activity_log.ts";
 * const options: ActivityLogOptions = { maxBytes: 10 << 20, keep: 3, logPrompts: false };
 * ```
 */
export interface ActivityLogOptions {
  /** Rotate when the file would grow past this many bytes. Default 10 MiB. */
  maxBytes?: number;
  /** Rotated files kept (`log.1` … `log.N`). Default 3. */
  keep?: number;
  /** Keep prompts, messages and outputs in records. Default false. */
  logPrompts?: boolean;
  /** Records that may wait for the disk before new ones are dropped. Default 10 000. */
  maxPendingRecords?: number;
  /** How long a record may wait to be written with the ones after it, in ms. Default 10. */
  flushMs?: number;
  /** Told about the first write failure (and the first drop). */
  onError?: (message: string) => void;
}

const encoder = new TextEncoder();

/**
 * An append-only, size-rotated NDJSON request log.
 *
 * @example
 * ```ts
 * import { ActivityLog } from "./activity_log.ts";
 * const log = await ActivityLog.open("activity.ndjson");
 * await log.close();
 * ```
 */
export class ActivityLog {
  readonly path: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #logPrompts: boolean;
  readonly #maxPending: number;
  readonly #onError: (message: string) => void;
  #file: Deno.FsFile;
  #size: number;
  readonly #flushMs: number;
  /** Lines queued, not yet written. */
  #pending: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> | null = null;
  #reportedError = false;
  #reportedDrop = false;
  #closed = false;
  /** Records dropped because the disk could not keep up, or a write failed. */
  dropped = 0;
  /** Records written. */
  written = 0;

  private constructor(path: string, file: Deno.FsFile, size: number, options: ActivityLogOptions) {
    this.path = path;
    this.#file = file;
    this.#size = size;
    this.#maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
    this.#keep = Math.max(0, options.keep ?? 3);
    this.#logPrompts = options.logPrompts ?? false;
    this.#maxPending = options.maxPendingRecords ?? 10_000;
    this.#flushMs = options.flushMs ?? 10;
    this.#onError = options.onError ?? ((m) => console.error(m));
  }

  /**
   * Opens (creating it and its directory) the log at `path` for appending.
   *
   * @example
   * ```ts
   * const log = await ActivityLog.open("activity.ndjson", { logPrompts: true });
   * ```
   */
  static async open(path: string, options: ActivityLogOptions = {}): Promise<ActivityLog> {
    await Deno.mkdir(parentDir(path), { recursive: true });
    const file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
    const size = (await file.stat()).size;
    return new ActivityLog(path, file, size, options);
  }

  /** True when prompts and outputs are kept. */
  get logsPrompts(): boolean {
    return this.#logPrompts;
  }

  /** Queues `record` (without its private fields unless `logPrompts`). Never throws, never waits. */
  write(record: ActivityRecord): void {
    if (this.#closed) return;
    if (this.#pending.length >= this.#maxPending) {
      this.dropped++;
      if (!this.#reportedDrop) {
        this.#reportedDrop = true;
        this.#onError(`activity log ${this.path}: the disk does not keep up; records are being dropped`);
      }
      return;
    }
    this.#pending.push(JSON.stringify(this.#logPrompts ? record : withoutPrivate(record)) + "\n");
    // A writer at work takes this line in its next round; else one starts after flushMs.
    if (this.#writing === null && this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#startWriting(), this.#flushMs);
    }
  }

  /** Resolves when every queued record has been written (or dropped after a failure). */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) this.#startWriting();
    while (this.#writing) await this.#writing;
  }

  #startWriting(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#writing ??= this.#drain();
  }

  /** Writes what is queued and closes the file. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    try {
      this.#file.close();
    } catch { /* already closed */ }
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending;
        this.#pending = [];
        const bytes = encoder.encode(batch.join(""));
        try {
          if (this.#size > 0 && this.#size + bytes.length > this.#maxBytes) await this.#rotate();
          let n = 0;
          while (n < bytes.length) n += await this.#file.write(bytes.subarray(n));
          this.#size += bytes.length;
          this.written += batch.length;
        } catch (e) {
          this.dropped += batch.length;
          if (!this.#reportedError) {
            this.#reportedError = true;
            this.#onError(`activity log ${this.path}: cannot write: ${(e as Error).message}`);
          }
        }
      }
    } finally {
      this.#writing = null;
    }
  }

  /** `log.(N-1)` → `log.N`, …, `log` → `log.1`, then a fresh `log`. */
  async #rotate(): Promise<void> {
    this.#file.close();
    if (this.#keep === 0) {
      await Deno.remove(this.path).catch(() => {});
    } else {
      await Deno.remove(`${this.path}.${this.#keep}`).catch(() => {});
      for (let i = this.#keep - 1; i >= 1; i--) {
        await Deno.rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(() => {});
      }
      await Deno.rename(this.path, `${this.path}.1`).catch(() => {});
    }
    this.#file = await Deno.open(this.path, { append: true, create: true, mode: 0o600 });
    this.#size = 0;
  }
}
