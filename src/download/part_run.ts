/**
 * The parts of one file being fetched in parallel: workers under the
 * connection budget, per-part retries and re-resolution of expired signed
 * URLs, the hashing frontier following the contiguous prefix, and the resume
 * sidecar saved at most every 250 ms and whenever a part completes. The data is
 * synced in the background every {@link SYNC_EVERY_BYTES} and once at the end;
 * the sidecar says which bytes were written and which were synced
 * (resume_state.ts).
 * @module
 */
import { LodeError, toLodeError } from "../errors.ts";
import { ConnectionBudget } from "./connection_budget.ts";
import { HashFrontier } from "./hash_frontier.ts";
import { openGet } from "./http_get.ts";
import type { DownloadOptions } from "./download_options.ts";
import type { Probe } from "./probe.ts";
import { BATCH_BYTES, BatchPool } from "./part_body.ts";
import { fetchRange } from "./range_fetch.ts";
import { bootId, contiguousPrefix, isIncomplete, type PartState, writeResumeState } from "./resume_state.ts";
import { type RetryPolicy, withRetries } from "./retry.ts";
import { WaitClock } from "./wait_clock.ts";

/** How often the resume sidecar is saved. */
const SAVE_EVERY_MS = 250;
/**
 * Bytes written between background syncs of the data. Small, so writeback follows the download closely and
 * the sync before the commit (on the pull's critical path) has little left to write.
 */
const SYNC_EVERY_BYTES = 32 * 1024 * 1024;
/** How long the probe's connection is measured alone before deciding how many to open. */
const RAMP_WINDOW_MS = 200;
/** After the first window, how often the lone connection is looked at again. */
const RELOOK_MS = 500;
/** A single connection at least this fast means the CPU, not the path, is the limit. */
const FAST_CONNECTION_BYTES_PER_S = 120e6;
/**
 * A slower connection whose reader waited for bytes at least this share of the window is limited by the
 * path; one that found its bytes waiting is limited by this machine's CPU (it is busy, or shared).
 */
const WAITING_SHARE = 0.5;

/** The download's options as the run needs them resolved. */
export type RunOptions = DownloadOptions & {
  retry: RetryPolicy;
  connections: number;
  adaptive: boolean;
  /** The budget slot the probe already holds; released when the probe's part is done. */
  probeSlot?: () => void;
};

/** What the probe established about the file. */
export interface Identity {
  size: number;
  etag: string | null;
  lastModified: string | null;
  resolved: URL;
}

/** The parts of one file, their workers, the hashing frontier and the sidecar. */
export class PartRun {
  readonly #frontier: HashFrontier;
  readonly #abort = new AbortController();
  readonly #pool = new BatchPool(BATCH_BYTES);
  /** Time the body readers spent waiting for bytes, pending reads included (the ramp's measure of the path). */
  readonly #waited = new WaitClock();
  /** Body bytes received over every connection (the ramp's measure of speed; the file lags by a batch or two). */
  #received = 0;
  #lastSave = 0;
  #saving: Promise<void> = Promise.resolve();
  /** The parts as of the last completed sync of the data, and the bytes they hold. */
  #synced: PartState[] | undefined;
  #syncedBytes = 0;
  #syncing: Promise<void> | null = null;
  #resolving: Promise<void> | null = null;
  /** Workers (connections) wanted now, and running now. */
  #target = 1;
  #workers = 0;

  readonly url: string;
  readonly file: string;
  readonly partialDir: string;
  readonly parts: PartState[];
  readonly options: RunOptions;
  readonly identity: Identity;

  constructor(init: {
    url: string;
    file: string;
    partialDir: string;
    parts: PartState[];
    options: RunOptions;
    identity: Identity;
  }) {
    ({
      url: this.url,
      file: this.file,
      partialDir: this.partialDir,
      parts: this.parts,
      options: this.options,
      identity: this.identity,
    } = init);
    this.#frontier = new HashFrontier(this.file);
  }

  async complete(probe: Probe): Promise<{ file: string; sha256: string; bytes: number }> {
    const { options, parts } = this;
    const onAbort = () => this.#abort.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const budget = options.budget ?? new ConnectionBudget(options.connections);
    const probed = parts.find(isIncomplete)!;
    const queue = parts.filter((p) => isIncomplete(p) && p !== probed);
    this.#written();
    // A worker takes parts until the queue is empty, the run fails, or the ramp lowered the target.
    // The first worker starts with the probe's part, on the probe's connection and budget slot.
    const drain = async (first?: PartState) => {
      this.#workers++;
      try {
        if (first) {
          await (options.probeSlot
            ? this.#fetchPart(first, probe).finally(options.probeSlot)
            : budget.run(() => this.#fetchPart(first, probe)));
        }
        while (queue.length > 0 && !this.#abort.signal.aborted && this.#workers <= this.#target) {
          const next = queue.shift()!;
          await budget.run(() => this.#fetchPart(next));
        }
      } finally {
        this.#workers--;
      }
    };
    const tasks: Promise<void>[] = [drain(probed).catch((e) => this.#fail(e))];
    const setTarget = (target: number) => {
      this.#target = target;
      const missing = Math.min(target - this.#workers, queue.length);
      for (let i = 0; i < missing; i++) tasks.push(drain().catch((e) => this.#fail(e)));
    };
    const stopRamp = this.#ramp(setTarget);
    try {
      for (let seen = 0; seen < tasks.length;) {
        seen = tasks.length;
        await Promise.all(tasks);
      }
      if (this.#abort.signal.aborted) throw this.#abort.signal.reason;
      const sha256 = await this.#frontier.finish(this.identity.size);
      await this.#syncing?.catch(() => {});
      using f = await Deno.open(this.file, { read: true });
      await f.syncData();
      await this.#saving.catch(() => {});
      return { file: this.file, sha256, bytes: this.identity.size };
    } catch (e) {
      await this.#save(true).catch(() => {});
      throw e;
    } finally {
      stopRamp();
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * How many connections: a fixed `connections` when the user chose one; otherwise chosen by
   * measurement. The probe's connection runs alone for one window (or half of it, when it moves less
   * than half the threshold: a throttled origin is plain after 100 ms); if it moves less than
   * {@link FAST_CONNECTION_BYTES_PER_S} while its reader waits for bytes most of the time
   * ({@link WAITING_SHARE}), the origin (or the path) limits each connection — a CDN, a proxy, a distant
   * host — and all `connections` start at once. A single connection faster than that, or one whose bytes
   * are already waiting when it reads (this machine's CPU is busy or shared), means the CPU is the limit:
   * more connections would only add TLS work and out-of-order parts to read back (on loopback, one
   * connection is the fastest: docs/benchmarks.md). A lone connection is looked at again every
   * {@link RELOOK_MS}; two path-limited windows in a row open all `connections`.
   */
  #ramp(setTarget: (target: number) => void): () => void {
    const { connections, adaptive } = this.options;
    if (!adaptive) {
      setTarget(connections);
      return () => {};
    }
    setTarget(1);
    let startBytes = this.#received;
    let startTime = performance.now();
    let startWaited = this.#waited.ms();
    let startQueued = this.#waited.runQueueMs();
    // Slow, and waiting for its bytes: the path limits each connection. Speed is counted in bytes
    // received, not written: the file lags a batch behind, which at the early look is much of it.
    // Time this thread waited for a CPU is not waiting for the path: on a busy machine a pending read
    // sees it pass too, and more connections would only add work.
    const pathLimited = (threshold: number) => {
      const ms = performance.now() - startTime;
      const rate = ((this.#received - startBytes) * 1000) / ms;
      const queued = this.#waited.runQueueMs() - startQueued;
      const waiting = (this.#waited.ms() - startWaited - queued) / ms;
      return rate < threshold && waiting >= WAITING_SHARE;
    };
    const timers: ReturnType<typeof setTimeout>[] = [];
    const stop = () => timers.forEach((t) => clearTimeout(t));
    const widen = () => {
      stop();
      setTarget(connections);
    };
    // Half-way through the window, a connection far below the threshold already says enough.
    timers.push(setTimeout(() => {
      if (pathLimited(FAST_CONNECTION_BYTES_PER_S / 2)) widen();
    }, RAMP_WINDOW_MS / 2));
    timers.push(setTimeout(() => {
      if (pathLimited(FAST_CONNECTION_BYTES_PER_S)) return widen();
      // One window can mislead (a burst of the machine's other work, an origin's first burst): the
      // connection is looked at again every RELOOK_MS, and two slow windows in a row widen.
      let slow = 0;
      timers.push(setInterval(() => {
        slow = pathLimited(FAST_CONNECTION_BYTES_PER_S) ? slow + 1 : 0;
        if (slow >= 2) return widen();
        startBytes = this.#received;
        startTime = performance.now();
        startWaited = this.#waited.ms();
        startQueued = this.#waited.runQueueMs();
      }, RELOOK_MS));
    }, RAMP_WINDOW_MS));
    return stop;
  }

  #doneBytes(): number {
    return this.parts.reduce((sum, p) => sum + p.done, 0);
  }

  /** The first failure stops every other part; its error is what the caller sees. */
  #fail(e: unknown): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(toLodeError(e));
  }

  #fetchPart(part: PartState, probe?: Probe): Promise<void> {
    let first = probe;
    return withRetries(async () => {
      const response = first;
      first = undefined;
      try {
        await fetchRange({
          url: this.identity.resolved,
          part,
          file: this.file,
          size: this.identity.size,
          validator: this.identity.etag ?? this.identity.lastModified,
          clientFor: this.options.clientFor,
          send: this.options.send,
          headers: this.identity.resolved.origin === new URL(this.url).origin
            ? this.options.headers
            : undefined,
          signal: this.#abort.signal,
          stallMs: this.options.stallMs ?? 30_000,
          pool: this.#pool,
          waited: this.#waited,
          onBytes: (delta) => {
            this.#received += delta;
          },
          onWritten: () => this.#written(),
          onBatch: (bytes, offset) => this.#frontier.offer(bytes, offset),
          response: response?.response,
          abortResponse: response ? () => response.controller.abort() : undefined,
        });
        // A finished part is recorded at once: after a crash only the parts in flight (one per
        // connection) are fetched again, never one that had completed.
        void this.#save(false);
      } catch (e) {
        const error = toLodeError(e);
        if (error.details.refusal !== "reresolve") throw error;
        await this.#resolveAgain();
        throw new LodeError("NETWORK", `resolved ${this.url} again after HTTP ${error.details.status}`, {
          details: { ...error.details },
        });
      }
    }, { policy: this.options.retry, signal: this.#abort.signal, onRetry: this.options.onRetry });
  }

  /** A signed redirect expired: ask the original URL where the bytes are now (once for all parts). */
  #resolveAgain(): Promise<void> {
    this.#resolving ??= (async () => {
      const { response, url } = await openGet(this.url, {
        policy: this.options.policy,
        clientFor: this.options.clientFor,
        send: this.options.send,
        headers: this.options.headers,
        everyHop: { range: "bytes=0-0" },
        signal: this.#abort.signal,
      });
      await response.body?.cancel();
      this.identity.resolved = url;
    })().finally(() => {
      this.#resolving = null;
    });
    return this.#resolving;
  }

  #written(): void {
    const prefix = contiguousPrefix(this.parts);
    this.#frontier.advance(prefix);
    const done = this.#doneBytes();
    this.options.onProgress?.(done);
    if (!this.#syncing && done - this.#syncedBytes >= SYNC_EVERY_BYTES) this.#sync(done);
    if (performance.now() - this.#lastSave >= SAVE_EVERY_MS) void this.#save(false).catch(() => {});
  }

  /** Syncs the data in the background; the next sidecar records what that sync covered. */
  #sync(done: number): void {
    const snapshot = this.parts.map((p) => ({ ...p }));
    this.#syncing = (async () => {
      using f = await Deno.open(this.file, { read: true });
      await f.syncData();
      this.#synced = snapshot;
      this.#syncedBytes = done;
    })().catch(() => {}).finally(() => {
      this.#syncing = null;
    });
  }

  /** Records the written parts (and the synced ones) in the sidecar. */
  #save(force: boolean): Promise<void> {
    this.#lastSave = performance.now();
    const snapshot = this.parts.map((p) => ({ ...p }));
    const synced = this.#synced;
    // A failed save does not stop the next one.
    this.#saving = this.#saving.catch(() => {}).then(async () => {
      await writeResumeState(this.partialDir, {
        version: 1,
        url: this.url,
        size: this.identity.size,
        etag: this.identity.etag,
        last_modified: this.identity.lastModified,
        parts: snapshot,
        hashed: this.#frontier.hashed,
        boot_id: await bootId(),
        synced_parts: synced ?? snapshot.map((p) => ({ ...p, done: 0 })),
      });
    });
    if (force) return this.#saving;
    return this.#saving.catch(() => {});
  }
}
