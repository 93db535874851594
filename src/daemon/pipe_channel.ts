/**
 * Byte channels over pipes, so {@link NdjsonConnection} (written for a
 * socket) speaks NDJSON with a child process over its stdin/stdout, and a
 * child process with its parent over its own stdin/stdout.
 *
 * @example
 * ```ts
 * import { NdjsonConnection } from "./ndjson_connection.ts";
 * import { childChannel } from "./pipe_channel.ts";
 * const child = new Deno.Command("cat", { stdin: "piped", stdout: "piped" }).spawn();
 * const conn = new NdjsonConnection(childChannel(child));
 * await conn.send({ hello: 1 });
 * for await (const line of conn.lines()) console.log(line);
 * ```
 * @module
 */
import type { ByteChannel } from "./ndjson_connection.ts";

/**
 * The channel to a child spawned with `stdin: "piped", stdout: "piped"`: reads its stdout, writes its
 * stdin. `close` closes both pipes (the child sees end of input); the process itself is not touched.
 *
 * @example
 * ```ts
 * const channel = childChannel(new Deno.Command("cat", { stdin: "piped", stdout: "piped" }).spawn());
 * ```
 */
export function childChannel(child: Deno.ChildProcess): ByteChannel {
  return streamChannel(child.stdout, child.stdin);
}

/**
 * The channel of this process to its parent: reads stdin, writes stdout.
 *
 * @example
 * ```ts
 * const channel = stdioChannel(); // inside a runner process
 * ```
 */
export function stdioChannel(): ByteChannel {
  return {
    read: (p) => Deno.stdin.read(p),
    write: (p) => Deno.stdout.write(p),
    close: () => {
      try {
        Deno.stdin.close();
      } catch { /* already closed */ }
    },
  };
}

/**
 * A channel over a readable and a writable byte stream (chunks larger than a read buffer are handed out
 * over several reads).
 *
 * @example
 * ```ts
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const loopback = streamChannel(readable, writable);
 * ```
 */
export function streamChannel(
  readable: ReadableStream<Uint8Array>,
  writable: WritableStream<Uint8Array>,
): ByteChannel {
  const reader = readable.getReader();
  const writer = writable.getWriter();
  let rest: Uint8Array | null = null;
  let closed = false;
  return {
    async read(p: Uint8Array): Promise<number | null> {
      if (rest === null) {
        if (closed) return null;
        const { value, done } = await reader.read();
        if (done || value === undefined) return null;
        rest = value;
      }
      const n = Math.min(p.length, rest.length);
      p.set(rest.subarray(0, n));
      rest = n === rest.length ? null : rest.subarray(n);
      return n;
    },
    async write(p: Uint8Array): Promise<number> {
      await writer.write(p);
      return p.length;
    },
    close(): void {
      if (closed) return;
      closed = true;
      reader.cancel().catch(() => {});
      writer.close().catch(() => {});
    },
  };
}
