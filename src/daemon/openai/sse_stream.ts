/**
 * A server-sent-events response body: `data: …` events written by the
 * server, read by the HTTP client at its own pace. {@link SseStream.ready}
 * paces the writer to the reader (a stream that a client does not read
 * holds at most `highWaterMark` bytes), and a client that goes away is
 * reported once through `onCancel`; after that, writes are dropped.
 * @module
 */

/** Headers of an event-stream response (`no-transform` keeps Deno from compressing, and so buffering, it). */
export const SSE_HEADERS: Record<string, string> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};

/** Options of {@link SseStream}. */
export interface SseStreamOptions {
  /** Bytes queued for a client before {@link SseStream.ready} waits. Default 256 KiB. */
  highWaterMark?: number;
  /** Told once when the client stops reading (disconnects). */
  onCancel?: (reason: unknown) => void;
}

const encoder = new TextEncoder();

/** The writer's side of an event-stream body. */
export class SseStream {
  /** The body to put in the `Response`. */
  readonly body: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #closed = false;
  #waiters: (() => void)[] = [];

  constructor(options: SseStreamOptions = {}) {
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => this.#wake(),
        cancel: (reason) => {
          if (this.#closed) return;
          this.#closed = true;
          this.#wake();
          options.onCancel?.(reason);
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: options.highWaterMark ?? 256 * 1024 }),
    );
  }

  /** True once closed by the server or cancelled by the client. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Writes one `data:` event: a string as it is (`[DONE]`), anything else as JSON. Dropped once closed. */
  send(data: unknown): void {
    this.#write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
  }

  /** Writes one named event (`event: NAME` + `data: JSON`), as the Responses API streams. Dropped once closed. */
  event(name: string, data: unknown): void {
    this.#write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Writes an SSE comment line (ignored by clients; keeps a connection visibly alive). */
  comment(text: string): void {
    this.#write(`: ${text.replaceAll("\n", " ")}\n\n`);
  }

  /** Resolves when the client has read enough of what is queued (at once when it has, or is gone). */
  ready(): Promise<void> {
    if (this.#closed || (this.#controller.desiredSize ?? 1) > 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Ends the stream after what is queued. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake();
    try {
      this.#controller.close();
    } catch { /* cancelled meanwhile */ }
  }

  #write(text: string): void {
    if (this.#closed) return;
    try {
      this.#controller.enqueue(encoder.encode(text));
    } catch { /* cancelled meanwhile */ }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
