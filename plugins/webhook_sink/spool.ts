/**
 * The webhook sink's spool: the messages not yet delivered, on disk, so that a restart delivers
 * them. A directory holds `events-<generation>.ndjson` (one `{"id","body"}` line per message, in
 * order) and `delivered` (`<generation> <byte offset>`: the lines before the offset were delivered).
 *
 * - Adding a message costs memory until {@link Spool.flush} writes every added line in one write
 *   (O_APPEND). The sink flushes once per burst of events, before each delivery and on close. Writes,
 *   acknowledgements and compactions run one after another, never overlapping.
 * - Bounded: a message that would take the undelivered bytes past `maxBytes` is refused (the sink
 *   counts it as dropped).
 * - Compaction writes the undelivered lines to the next generation's file, then points `delivered`
 *   at it, then removes the old file: a crash at any step leaves the messages readable (some may be
 *   delivered twice; Standard Webhooks receivers deduplicate by `webhook-id`). A last line torn by a
 *   crash is skipped.
 *
 * @example
 * ```ts
 * import { Spool } from "./spool.ts";
 * const spool = await Spool.open(await Deno.makeTempDir(), { maxBytes: 1 << 20 });
 * spool.add({ id: "msg_1", body: "{}" });
 * await spool.flush();
 * await spool.ack(); // msg_1 delivered
 * await spool.close();
 * ```
 * @module
 */
import { joinPath } from "../../src/path.ts";

/** One message: its `webhook-id` and its body, exactly as signed. */
export interface SpoolItem {
  id: string;
  body: string;
}

interface Entry extends SpoolItem {
  /** The length of its line in bytes. */
  bytes: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Delivered bytes past which the file is compacted. */
const COMPACT_BYTES = 1 << 20;

/** See the module doc. */
export class Spool {
  #generation: number;
  /** Bytes of the current file's lines that were delivered. */
  #offset: number;
  /** Bytes in the current file (written lines). */
  #size: number;
  #file: Deno.FsFile;
  /** Undelivered entries: the first `#written` of them are on disk. */
  #entries: Entry[];
  #head = 0;
  #written: number;
  #pendingBytes: number;
  /** The slot's lock (spool_slots.ts), released by `close`. */
  #lock: Deno.FsFile | null = null;
  #tail: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
    state: { generation: number; offset: number; size: number; file: Deno.FsFile; entries: Entry[] },
  ) {
    this.#generation = state.generation;
    this.#offset = state.offset;
    this.#size = state.size;
    this.#file = state.file;
    this.#entries = state.entries;
    this.#written = state.entries.length;
    this.#pendingBytes = state.entries.reduce((n, e) => n + e.bytes, 0);
  }

  /** Opens (or creates) the spool in `dir`, with the messages an earlier run left undelivered. */
  static async open(dir: string, options: { maxBytes: number; lock?: Deno.FsFile }): Promise<Spool> {
    await Deno.mkdir(dir, { recursive: true });
    let generation = 0;
    let offset = 0;
    try {
      const [g, o] = (await Deno.readTextFile(joinPath(dir, "delivered"))).trim().split(" ");
      if (/^\d+$/.test(g ?? "") && /^\d+$/.test(o ?? "")) [generation, offset] = [Number(g), Number(o)];
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const path = joinPath(dir, `events-${generation}.ndjson`);
    let bytes: Uint8Array = new Uint8Array();
    try {
      bytes = await Deno.readFile(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const entries: Entry[] = [];
    let start = Math.min(offset, bytes.length);
    let size = start;
    while (start < bytes.length) {
      const end = bytes.indexOf(10, start);
      if (end === -1) break; // a line torn by a crash: never delivered, dropped with the compaction
      const entry = parseLine(bytes.subarray(start, end + 1));
      if (entry) entries.push(entry);
      start = end + 1;
      size = start;
    }
    for await (const f of Deno.readDir(dir)) {
      if (/^events-\d+\.ndjson$/.test(f.name) && f.name !== `events-${generation}.ndjson`) {
        await Deno.remove(joinPath(dir, f.name)).catch(() => {});
      }
    }
    const file = await Deno.open(path, { create: true, append: true });
    if (size < bytes.length) await file.truncate(size);
    const spool = new Spool(dir, options.maxBytes, { generation, offset, size, file, entries });
    spool.#lock = options.lock ?? null;
    if (offset > 0) await spool.#compact();
    return spool;
  }

  /** Undelivered messages (on disk or not yet). */
  get length(): number {
    return this.#entries.length - this.#head;
  }

  /** The oldest undelivered message. */
  get first(): SpoolItem | undefined {
    const entry = this.#entries[this.#head];
    return entry && { id: entry.id, body: entry.body };
  }

  /** Every undelivered message, oldest first. */
  items(): SpoolItem[] {
    return this.#entries.slice(this.#head).map((e) => ({ id: e.id, body: e.body }));
  }

  /** Keeps `item` for delivery; false (and nothing kept) when the spool is full. */
  add(item: SpoolItem): boolean {
    const line = JSON.stringify(item) + "\n";
    const bytes = encoder.encode(line).length;
    if (this.#pendingBytes + bytes > this.maxBytes) return false;
    this.#entries.push({ ...item, bytes });
    this.#pendingBytes += bytes;
    return true;
  }

  /** Writes the messages added since the last flush, in one write. */
  flush(): Promise<void> {
    return this.#serial(() => this.#flush());
  }

  /** The oldest message was delivered. */
  ack(): Promise<void> {
    return this.#serial(() => this.#ack());
  }

  /** Forgets every undelivered message (the endpoint is gone). */
  clear(): Promise<void> {
    return this.#serial(() => this.#clear());
  }

  /** Writes what was added and closes the file. */
  close(): Promise<void> {
    return this.#serial(() => this.#close());
  }

  /** Runs `step` after every step asked for before it: the file's writes and renames never overlap. */
  #serial(step: () => Promise<void>): Promise<void> {
    const run = this.#tail.then(step);
    this.#tail = run.catch(() => {});
    return run;
  }

  async #flush(): Promise<void> {
    if (this.#written >= this.#entries.length) return;
    const lines = this.#entries.slice(this.#written).map((e) =>
      JSON.stringify({ id: e.id, body: e.body }) + "\n"
    );
    const bytes = encoder.encode(lines.join(""));
    this.#written = this.#entries.length;
    let done = 0;
    while (done < bytes.length) done += await this.#file.write(bytes.subarray(done));
    this.#size += bytes.length;
  }

  async #ack(): Promise<void> {
    const entry = this.#entries[this.#head];
    if (!entry) return;
    await this.#flush();
    this.#entries[this.#head++] = undefined as unknown as Entry;
    this.#pendingBytes -= entry.bytes;
    this.#offset += entry.bytes;
    if (this.#head >= 1024 && this.#head * 2 >= this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#written -= this.#head;
      this.#head = 0;
    }
    if (this.length === 0 || this.#offset >= COMPACT_BYTES) await this.#compact();
    else await this.#writeDelivered();
  }

  async #clear(): Promise<void> {
    this.#entries = [];
    this.#head = 0;
    this.#written = 0;
    this.#pendingBytes = 0;
    this.#offset = this.#size;
    await this.#compact();
  }

  async #close(): Promise<void> {
    try {
      await this.#flush();
    } finally {
      this.#file.close();
      this.#lock?.close(); // closing the file releases its lock
      this.#lock = null;
    }
  }

  async #writeDelivered(): Promise<void> {
    await Deno.writeTextFile(joinPath(this.dir, "delivered"), `${this.#generation} ${this.#offset}\n`);
  }

  /** Moves the undelivered lines to the next generation's file (see the module doc). */
  async #compact(): Promise<void> {
    await this.#flush();
    const old = joinPath(this.dir, `events-${this.#generation}.ndjson`);
    const next = this.#generation + 1;
    const path = joinPath(this.dir, `events-${next}.ndjson`);
    const rest = this.#entries.slice(this.#head, this.#written)
      .map((e) => JSON.stringify({ id: e.id, body: e.body }) + "\n").join("");
    const bytes = encoder.encode(rest);
    await Deno.writeFile(path, bytes);
    this.#file.close();
    this.#file = await Deno.open(path, { append: true });
    this.#generation = next;
    this.#offset = 0;
    this.#size = bytes.length;
    await this.#writeDelivered();
    await Deno.remove(old).catch(() => {});
  }
}

function parseLine(line: Uint8Array): Entry | null {
  try {
    const value = JSON.parse(decoder.decode(line));
    if (typeof value?.id !== "string" || typeof value?.body !== "string") return null;
    return { id: value.id, body: value.body, bytes: line.length };
  } catch {
    return null;
  }
}
