/**
 * A test client of the inference socket, independent of lode's own client:
 * it writes raw lines, reads frames in the background with the test
 * {@link LineReader}, checks every frame against the protocol's schema, and
 * hands them out per request id once the request's terminal frame (`done` or
 * `error`) arrived.
 *
 * @example
 * ```ts
 * const client = await FrameClient.connect(socketPath);
 * await client.write({ id: "h1", op: "health" });
 * const frames = await client.frames("h1"); // [{type:"health",…}, {type:"done"}]
 * client.close();
 * ```
 * @module
 */
import { ResponseFrame } from "../../src/daemon/wire/protocol.ts";
import { LineReader } from "./unix_socket.ts";

/** A frame as read (checked against the schema, kept as sent). */
export type Frame = Record<string, unknown> & { id: string | null; type: string };

const encoder = new TextEncoder();

/** A raw NDJSON client of the inference socket. */
export class FrameClient {
  readonly conn: Deno.UnixConn;
  /** Every frame, in arrival order. */
  readonly all: Frame[] = [];
  /** Frames with a null id (errors about lines whose id could not be read). */
  readonly anonymous: Frame[] = [];
  /** Lines that were not valid frames. */
  readonly invalid: string[] = [];
  readonly #byId = new Map<string, Frame[]>();
  readonly #waiters = new Map<string, (frames: Frame[]) => void>();
  readonly #finished = new Set<string>();
  readonly #anyWaiters: (() => void)[] = [];
  /** Settles when the daemon closes the connection. */
  readonly ended: Promise<void>;

  private constructor(conn: Deno.UnixConn) {
    this.conn = conn;
    this.ended = this.#read();
  }

  /** Connects to the socket at `path`. */
  static async connect(path: string): Promise<FrameClient> {
    return new FrameClient(await Deno.connect({ transport: "unix", path }));
  }

  /** Writes a request (an object is encoded as one JSON line; a string is written as is). */
  async write(request: Record<string, unknown> | string): Promise<void> {
    const text = typeof request === "string" ? request : JSON.stringify(request) + "\n";
    const bytes = encoder.encode(text);
    let n = 0;
    while (n < bytes.length) n += await this.conn.write(bytes.subarray(n));
  }

  /** Every frame of request `id`, once its terminal frame arrived (rejects after `timeoutMs`). */
  frames(id: string, timeoutMs = 20_000): Promise<Frame[]> {
    if (this.#finished.has(id)) return Promise.resolve(this.#byId.get(id)!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(id);
        reject(
          new Error(
            `no terminal frame for ${id} in ${timeoutMs} ms; got ${JSON.stringify(this.#byId.get(id))}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.set(id, (frames) => {
        clearTimeout(timer);
        resolve(frames);
      });
    });
  }

  /** The frames of `id` so far (terminal or not). */
  sofar(id: string): Frame[] {
    return this.#byId.get(id) ?? [];
  }

  /** Waits until `predicate` holds for the frames received so far. */
  async until(predicate: (all: Frame[]) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.all)) {
      if (Date.now() > deadline) throw new Error(`condition not met; frames: ${JSON.stringify(this.all)}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#anyWaiters.push(resolve);
        timer = setTimeout(resolve, 50);
      });
      clearTimeout(timer);
    }
  }

  /** Half-closes: no more requests (the daemon still answers). */
  async closeWrite(): Promise<void> {
    await this.conn.closeWrite();
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  async #read(): Promise<void> {
    const reader = new LineReader(this.conn);
    for (let line = await reader.next(); line !== null; line = await reader.next()) {
      let frame: Frame;
      try {
        frame = JSON.parse(line);
        ResponseFrame.parse(frame);
      } catch {
        this.invalid.push(line);
        continue;
      }
      this.all.push(frame);
      if (frame.id === null) this.anonymous.push(frame);
      else {
        const list = this.#byId.get(frame.id) ?? [];
        this.#byId.set(frame.id, list);
        list.push(frame);
        if (frame.type === "done" || frame.type === "error") {
          this.#finished.add(frame.id);
          this.#waiters.get(frame.id)?.(list);
          this.#waiters.delete(frame.id);
        }
      }
      for (const wake of this.#anyWaiters.splice(0)) wake();
    }
  }
}

/** The text of a generation's `token` frames. */
export function tokenText(frames: Frame[]): string {
  return frames.filter((f) => f.type === "token").map((f) => f.text as string).join("");
}

/** The last frame (the terminal one of a finished request). */
export function terminal(frames: Frame[]): Frame {
  return frames[frames.length - 1]!;
}
