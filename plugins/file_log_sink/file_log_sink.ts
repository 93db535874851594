/**
 * The file-log sink: every envelope as one NDJSON line (the envelope itself, whose `v` is the
 * record's version) appended to a file.
 *
 * - Lines are gathered and written in batches, each batch in one write on a file opened with
 *   O_APPEND, so no line is ever split between writes of this process or interleaved with another
 *   appender's line.
 * - Size-based rotation: before a batch would take the file past `maxBytes`, the file becomes
 *   `PATH.1` (`PATH.1` becomes `PATH.2`, …, keeping `keep` of them) and a new `PATH` is started; a
 *   batch is split only between lines.
 * - SIGHUP reopens `PATH` (logrotate's `create` with `postrotate kill -HUP <pid>`): the lines after
 *   it go to the new file.
 * - A failed write is reported by the next `event` call (the sink runner tags it with the sink's
 *   name); the lines of that batch are lost, the sink carries on.
 *
 * @example
 * ```ts
 * import { createFileLogSink } from "./file_log_sink.ts";
 * const sink = await createFileLogSink({ path: `${await Deno.makeTempDir()}/events.ndjson`, maxBytes: 1 << 20, keep: 3 });
 * sink.event({ v: 1, seq: 1, time: Date.now(), source: "download", event: { event: "waiting", reason: "lock", what: "m" } });
 * await sink.close();
 * ```
 * @module
 */
import type { Envelope } from "../../src/events/envelope.ts";
import type { EventSink } from "../../src/plugin/sink_runner.ts";

/** Options of {@link createFileLogSink}. */
export interface FileLogSinkOptions {
  path: string;
  /** The size past which the file is rotated; 0 never rotates. Default 10 MiB. */
  maxBytes?: number;
  /** Rotated files kept (`PATH.1` … `PATH.keep`). Default 5. */
  keep?: number;
  /** Reopen the file on SIGHUP. Default true. */
  reopenOnSighup?: boolean;
  /** Buffered text that starts a write without waiting for the batch's end. Default 256 KiB. */
  batchBytes?: number;
}

/** A file-log sink; `reopen()` does what SIGHUP does. */
export interface FileLogSink extends EventSink {
  reopen(): void;
  /** Lines written, lines lost to failed writes, rotations done. */
  readonly stats: { written: number; lost: number; rotations: number };
}

const DEFAULTS = { maxBytes: 10 << 20, keep: 5, batchBytes: 256 << 10 };
const encoder = new TextEncoder();
const NEWLINE = 10;

/** Opens (creates) the log file and returns the sink. */
export async function createFileLogSink(options: FileLogSinkOptions): Promise<FileLogSink> {
  const file = await Deno.open(options.path, { create: true, append: true });
  const size = (await file.stat()).size;
  return new FileLog(options, file, size);
}

class FileLog implements FileLogSink {
  readonly name: string;
  readonly stats = { written: 0, lost: 0, rotations: 0 };
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #batchBytes: number;
  #file: Deno.FsFile | null;
  #size: number;
  #lines: string[] = [];
  #chars = 0;
  #flushing: Promise<void> | null = null;
  #scheduled = false;
  #reopen = false;
  #error: unknown = null;
  #closed = false;
  readonly #onHup = () => this.reopen();
  #listening = false;

  constructor(readonly options: FileLogSinkOptions, file: Deno.FsFile, size: number) {
    this.name = `file ${options.path}`;
    this.#maxBytes = options.maxBytes ?? DEFAULTS.maxBytes;
    this.#keep = options.keep ?? DEFAULTS.keep;
    this.#batchBytes = options.batchBytes ?? DEFAULTS.batchBytes;
    this.#file = file;
    this.#size = size;
    if (options.reopenOnSighup !== false) {
      try {
        Deno.addSignalListener("SIGHUP", this.#onHup);
        this.#listening = true;
      } catch {
        // No SIGHUP on this system (Windows): reopen() is still there.
      }
    }
  }

  event(envelope: Envelope): void | Promise<void> {
    if (this.#closed) return;
    const line = JSON.stringify(envelope) + "\n";
    this.#lines.push(line);
    this.#chars += line.length;
    if (this.#error !== null) {
      // This event is kept for the next write; the failure of the last one is reported now.
      const error = this.#error;
      this.#error = null;
      throw error;
    }
    // A full batch is written now, and the caller waits for it (the sink runner's buffer absorbs bursts).
    if (this.#chars >= this.#batchBytes) return this.#flush();
    if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => {
        this.#scheduled = false;
        void this.#flush();
      }, 0);
    }
  }

  reopen(): void {
    this.#reopen = true;
    if (!this.#closed) void this.#flush();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#listening) Deno.removeSignalListener("SIGHUP", this.#onHup);
    await this.#flush();
    this.#file?.close();
    this.#file = null;
    if (this.#error !== null) {
      const error = this.#error;
      this.#error = null;
      throw error;
    }
  }

  /** Writes what is buffered; one flush at a time, the next one picks up what came meanwhile. */
  #flush(): Promise<void> {
    this.#flushing ??= (async () => {
      try {
        while (this.#lines.length > 0 || this.#reopen) {
          const lines = this.#lines;
          this.#lines = [];
          this.#chars = 0;
          try {
            if (this.#reopen) await this.#reopenFile();
            if (lines.length > 0) await this.#write(encoder.encode(lines.join("")), lines.length);
          } catch (error) {
            this.stats.lost += lines.length;
            this.#error = error;
          }
        }
      } finally {
        this.#flushing = null;
      }
    })();
    return this.#flushing;
  }

  /** Appends whole lines, rotating between lines when the file would pass `maxBytes`. */
  async #write(bytes: Uint8Array, lines: number): Promise<void> {
    let rest = bytes;
    while (rest.length > 0) {
      const room = this.#maxBytes > 0 ? this.#maxBytes - this.#size : Infinity;
      if (rest.length <= room) {
        await this.#append(rest);
        break;
      }
      let cut = room > 0 ? rest.lastIndexOf(NEWLINE, room - 1) + 1 : 0;
      if (cut === 0 && this.#size > 0) {
        await this.#rotate();
        continue;
      }
      // An empty file takes at least one line, however long.
      if (cut === 0) cut = rest.indexOf(NEWLINE) + 1;
      await this.#append(rest.subarray(0, cut));
      rest = rest.subarray(cut);
      if (rest.length > 0) await this.#rotate();
    }
    this.stats.written += lines;
  }

  async #append(bytes: Uint8Array): Promise<void> {
    const file = this.#file ?? await this.#openFile();
    let done = 0;
    while (done < bytes.length) done += await file.write(bytes.subarray(done));
    this.#size += bytes.length;
  }

  async #rotate(): Promise<void> {
    this.#file?.close();
    this.#file = null;
    const path = this.options.path;
    if (this.#keep === 0) {
      await Deno.remove(path).catch(ignoreNotFound);
    } else {
      for (let i = this.#keep - 1; i >= 1; i--) {
        await Deno.rename(`${path}.${i}`, `${path}.${i + 1}`).catch(ignoreNotFound);
      }
      await Deno.rename(path, `${path}.1`).catch(ignoreNotFound);
    }
    this.stats.rotations++;
    await this.#openFile();
  }

  async #reopenFile(): Promise<void> {
    this.#reopen = false;
    this.#file?.close();
    this.#file = null;
    await this.#openFile();
  }

  async #openFile(): Promise<Deno.FsFile> {
    const file = await Deno.open(this.options.path, { create: true, append: true });
    this.#file = file;
    this.#size = (await file.stat()).size;
    return file;
  }
}

function ignoreNotFound(e: unknown): void {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}
