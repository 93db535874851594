/**
 * The hashing frontier of a parallel download: parts land out of order, but
 * SHA-256 must see the bytes in order. The frontier follows the contiguous
 * prefix of the partial file — as soon as the parts before an offset are all
 * on disk it reads them back from the page cache and hashes them — so when the
 * last part lands the digest is all but done: no second pass over the file.
 * Bytes that arrive exactly at the frontier are {@link HashFrontier.offer}ed and
 * hashed in flight, so an in-order download never reads anything back.
 * @module
 */
import { createHash } from "node:crypto";

/** Read-back size: large enough to keep the hash busy; one buffer for the whole download. */
const READ_BACK_BYTES = 1024 * 1024;

/** Hashes a file's prefix as it becomes available. */
export class HashFrontier {
  readonly #path: string;
  readonly #hash = createHash("sha256");
  #hashed = 0;
  #target = 0;
  #running: Promise<void> | null = null;
  #failure: unknown = null;
  #buffer: Uint8Array | null = null;

  constructor(path: string) {
    this.#path = path;
  }

  /** Bytes hashed so far. */
  get hashed(): number {
    return this.#hashed;
  }

  /** Says the first `prefixBytes` of the file are written; hashing catches up in the background. */
  advance(prefixBytes: number): void {
    if (prefixBytes > this.#target) this.#target = prefixBytes;
    this.#kick();
  }

  #kick(): void {
    if (this.#running || this.#failure !== null || this.#hashed >= this.#target) return;
    this.#running = this.#catchUp().catch((e) => {
      this.#failure = e;
    }).finally(() => {
      this.#running = null;
      this.#kick();
    });
  }

  /**
   * Offers bytes as they arrive at `offset`: when they are exactly the next bytes the hash
   * needs (the frontier's own part, usually) they are hashed at once and never read back.
   */
  offer(bytes: Uint8Array, offset: number): void {
    if (this.#running || this.#failure !== null || offset !== this.#hashed) return;
    this.#hash.update(bytes);
    this.#hashed += bytes.length;
    this.inline += bytes.length;
  }

  /** Bytes hashed as they arrived (the rest were read back from the page cache). */
  inline = 0;

  /** Hashes up to `totalBytes` and returns the hex digest. */
  async finish(totalBytes: number): Promise<string> {
    this.advance(totalBytes);
    while (this.#running) await this.#running;
    if (this.#failure !== null) throw this.#failure;
    if (this.#hashed !== totalBytes) {
      throw new Error(`hash frontier at ${this.#hashed}, expected ${totalBytes}`);
    }
    return this.#hash.digest("hex");
  }

  async #catchUp(): Promise<void> {
    using file = await Deno.open(this.#path, { read: true });
    await file.seek(this.#hashed, Deno.SeekMode.Start);
    const buf = this.#buffer ??= new Uint8Array(READ_BACK_BYTES);
    while (this.#hashed < this.#target) {
      const want = Math.min(buf.length, this.#target - this.#hashed);
      const n = await file.read(buf.subarray(0, want));
      if (n === null || n === 0) {
        throw new Error(`partial file ended at ${this.#hashed}, before ${this.#target}`);
      }
      this.#hash.update(buf.subarray(0, n));
      this.#hashed += n;
    }
  }
}
