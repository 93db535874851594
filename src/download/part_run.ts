/**
 * The parts of one file being fetched in parallel: workers under the
 * connection budget, per-part retries and re-resolution of expired signed
 * URLs, the hashing frontier following the contiguous prefix, and the resume
 * sidecar saved (after syncing the data) at most every 250 ms.
 *
 * @example
 * ```ts
 * const run = new PartRun({ url, file, partialDir, parts, options, identity });
 * const { sha256 } = await run.complete(probe);
 * ```
 * @module
 */
import { LodeError, toLodeError } from "../errors.ts";
import { ConnectionBudget } from "./connection_budget.ts";
import { HashFrontier } from "./hash_frontier.ts";
import { openGet } from "./http_get.ts";
import type { DownloadOptions } from "./parallel_download.ts";
import type { Probe } from "./probe.ts";
import { fetchRange } from "./range_fetch.ts";
import { contiguousPrefix, isIncomplete, type PartState, writeResumeState } from "./resume_state.ts";
import { type RetryPolicy, withRetries } from "./retry.ts";

/** How often the resume sidecar is saved (after syncing the data it describes). */
const SAVE_EVERY_MS = 250;
/** How long each connection count is measured before the ramp decides to add more. */
const RAMP_WINDOW_MS = 150;

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
  #lastSave = 0;
  #saving: Promise<void> = Promise.resolve();
  #resolving: Promise<void> | null = null;

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
    const drain = async () => {
      for (let part = queue.shift(); part && !this.#abort.signal.aborted; part = queue.shift()) {
        const next = part;
        await budget.run(() => this.#fetchPart(next));
      }
    };
    const tasks: Promise<void>[] = [
      (options.probeSlot
        ? this.#fetchPart(probed, probe).finally(options.probeSlot)
        : budget.run(() => this.#fetchPart(probed, probe))).then(drain),
    ];
    const addWorkers = (count: number) => {
      for (let i = 0; i < count && tasks.length <= queue.length + 1; i++) {
        tasks.push(drain().catch((e) => this.#fail(e)));
      }
    };
    const stopRamp = this.#ramp(addWorkers, () => tasks.length);
    try {
      tasks[0] = tasks[0]!.catch((e) => this.#fail(e));
      for (let seen = 0; seen < tasks.length;) {
        seen = tasks.length;
        await Promise.all(tasks);
      }
      if (this.#abort.signal.aborted) throw this.#abort.signal.reason;
      const sha256 = await this.#frontier.finish(this.identity.size);
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
   * measurement — start with two, and double while the aggregate rate still grows by a quarter
   * per step (per-connection throttling), up to `connections`. On a fast link where the CPU is
   * the limit, more connections only cost more TLS, so it stays small.
   */
  #ramp(add: (count: number) => void, active: () => number): () => void {
    const { connections, adaptive } = this.options;
    if (!adaptive) {
      add(connections - 1);
      return () => {};
    }
    add(1);
    let lastRate = 0;
    let lastBytes = this.#doneBytes();
    let lastTime = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      const bytes = this.#doneBytes();
      const rate = (bytes - lastBytes) / (now - lastTime);
      [lastBytes, lastTime] = [bytes, now];
      if (active() >= connections || (lastRate > 0 && rate < lastRate * 1.25)) return clearInterval(timer);
      lastRate = rate;
      add(Math.min(active(), connections - active()));
    }, RAMP_WINDOW_MS);
    return () => clearInterval(timer);
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
          headers: this.identity.resolved.origin === new URL(this.url).origin
            ? this.options.headers
            : undefined,
          signal: this.#abort.signal,
          stallMs: this.options.stallMs ?? 30_000,
          onWritten: () => this.#written(),
          onBatch: (bytes, offset) => this.#frontier.offer(bytes, offset),
          response: response?.response,
          abortResponse: response ? () => response.controller.abort() : undefined,
        });
      } catch (e) {
        const error = toLodeError(e);
        if (error.details.refusal !== "reresolve") throw error;
        await this.#resolveAgain();
        throw new LodeError("NETWORK", `resolved ${this.url} again after HTTP ${error.details.status}`, {
          details: error.details,
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
    this.options.onProgress?.(this.#doneBytes());
    if (performance.now() - this.#lastSave >= SAVE_EVERY_MS) void this.#save(false).catch(() => {});
  }

  /** Syncs the data, then records it in the sidecar (so the sidecar never claims unsynced bytes). */
  #save(force: boolean): Promise<void> {
    this.#lastSave = performance.now();
    const snapshot = this.parts.map((p) => ({ ...p }));
    this.#saving = this.#saving.then(async () => {
      using f = await Deno.open(this.file, { read: true });
      await f.syncData();
      await writeResumeState(this.partialDir, {
        version: 1,
        url: this.url,
        size: this.identity.size,
        etag: this.identity.etag,
        last_modified: this.identity.lastModified,
        parts: snapshot,
        hashed: this.#frontier.hashed,
      });
    });
    if (force) return this.#saving;
    return this.#saving.catch(() => {});
  }
}
