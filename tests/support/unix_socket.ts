/**
 * Real Unix socket pairs for daemon tests: a listener on a socket file in a
 * fresh temporary directory, and helpers to read NDJSON lines from the
 * client side without going through the code under test.
 *
 * @example
 * ```ts
 * await withSocketPair(async ({ server, client }) => {
 *   await client.write(new TextEncoder().encode('{"id":"1","op":"health"}\n'));
 *   const reader = new LineReader(server);
 *   console.log(await reader.next());
 * });
 * ```
 * @module
 */

/** A connected pair of Unix socket ends, and the listener they came from. */
export interface SocketPair {
  server: Deno.Conn;
  client: Deno.Conn;
  listener: Deno.Listener;
  path: string;
  dir: string;
}

/** Runs `body` with a connected pair over a real socket file; closes everything and removes the directory after. */
export async function withSocketPair<T>(body: (pair: SocketPair) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "lode-sock-" });
  const path = `${dir}/s.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const [client, server] = await Promise.all([Deno.connect({ transport: "unix", path }), listener.accept()]);
  try {
    return await body({ server, client, listener, path, dir });
  } finally {
    for (const c of [client, server, listener]) {
      try {
        c.close();
      } catch { /* closed by the test */ }
    }
    await Deno.remove(dir, { recursive: true });
  }
}

/** Reads `\n`-terminated lines from a connection (the test's own reader, independent of the code under test). */
export class LineReader {
  readonly #conn: Deno.Conn;
  readonly #decoder = new TextDecoder();
  readonly #buffer = new Uint8Array(64 * 1024);
  #pending: string[] = [];
  #lines: string[] = [];
  #eof = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** The next line (without `\n`), or null at end of stream. */
  async next(): Promise<string | null> {
    while (this.#lines.length === 0) {
      if (this.#eof) return null;
      let n: number | null = null;
      try {
        n = await this.#conn.read(this.#buffer);
      } catch {
        n = null;
      }
      if (n === null) {
        this.#eof = true;
        continue;
      }
      const text = this.#decoder.decode(this.#buffer.subarray(0, n), { stream: true });
      if (!text.includes("\n")) {
        this.#pending.push(text); // a long line: join once, when its end arrives
        continue;
      }
      const parts = (this.#pending.join("") + text).split("\n");
      this.#pending = [parts.pop() ?? ""];
      this.#lines.push(...parts);
    }
    return this.#lines.shift()!;
  }

  /** The next line parsed as JSON; throws at end of stream. */
  async json(): Promise<Record<string, unknown>> {
    const line = await this.next();
    if (line === null) throw new Error("the stream ended");
    return JSON.parse(line);
  }

  /** Every remaining line until end of stream. */
  async rest(): Promise<string[]> {
    const out: string[] = [];
    for (let line = await this.next(); line !== null; line = await this.next()) out.push(line);
    return out;
  }
}
