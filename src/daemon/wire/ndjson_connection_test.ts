import assert from "node:assert/strict";
import {
  type InboundLine,
  NdjsonConnection,
  type NdjsonConnectionOptions,
  PREFIX_BYTES,
} from "./ndjson_connection.ts";
import { idFromPrefix } from "./decode_request.ts";
import { LineReader, withSocketPair } from "../../../tests/support/unix_socket.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let n = 0;
  while (n < bytes.length) n += await conn.write(bytes.subarray(n));
}

/** Everything `lines()` yields until the peer ends its side, lines decoded as text. */
async function collect(conn: NdjsonConnection): Promise<(InboundLine & { text?: string })[]> {
  const out: (InboundLine & { text?: string })[] = [];
  for await (const item of conn.lines()) {
    out.push(item.type === "line" ? { ...item, text: dec.decode(item.bytes) } : item);
  }
  return out;
}

Deno.test("lines: many lines in one write, lines split across writes, CRLF, blank lines skipped", async () => {
  await withSocketPair(async ({ server, client }) => {
    const conn = new NdjsonConnection(server, { readBufferBytes: 16 });
    const got = collect(conn);
    await writeAll(client, enc.encode('{"a":1}\n{"b":2}\r\n\n\r\n{"c":'));
    await new Promise((r) => setTimeout(r, 20));
    await writeAll(client, enc.encode('"a long value that spans reads"}\n'));
    await client.closeWrite();
    const items = await got;
    assert.deepEqual(items.map((i) => i.text), [
      '{"a":1}',
      '{"b":2}',
      '{"c":"a long value that spans reads"}',
    ]);
    assert.ok(items.every((i) => i.type === "line" && i.terminated));
  });
});

/** `conn`, with the size of every buffer `read` is given recorded in `sizes`. */
function recordingReads(conn: Deno.Conn, sizes: number[]): Deno.Conn {
  return new Proxy(conn, {
    get(target, key) {
      if (key === "read") {
        return (buffer: Uint8Array) => {
          sizes.push(buffer.length);
          return target.read(buffer);
        };
      }
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("lines: reads start with 4 KiB, double while reads fill the buffer, up to readBufferBytes", async () => {
  // Small requests: the buffer stays at 4 KiB.
  await withSocketPair(async ({ server, client }) => {
    const sizes: number[] = [];
    const got = collect(new NdjsonConnection(recordingReads(server, sizes)));
    for (let i = 0; i < 20; i++) {
      await writeAll(client, enc.encode(`{"id":"h${i}","op":"health"}\n`));
      await new Promise((r) => setTimeout(r, 1));
    }
    await client.closeWrite();
    assert.equal((await got).length, 20);
    assert.ok(sizes.every((n) => n === 4096), String(sizes));
  });
  // 4 MiB of lines at once: 4 KiB, 8, 16, 32, then 64 (the default most), every line intact.
  await withSocketPair(async ({ server, client }) => {
    const sizes: number[] = [];
    const got = collect(new NdjsonConnection(recordingReads(server, sizes)));
    const lines = Array.from({ length: 40_000 }, (_, i) => `{"id":"${i}","text":"${"x".repeat(90)}"}`);
    await writeAll(client, enc.encode(lines.join("\n") + "\n"));
    await client.closeWrite();
    assert.deepEqual((await got).map((l) => l.text), lines);
    assert.equal(sizes[0], 4096);
    // (a read the kernel could not fill leaves the size as it is)
    sizes.slice(1).forEach((n, i) => assert.ok(n === sizes[i] || n === 2 * sizes[i]!, String(sizes)));
    assert.equal(sizes.at(-1), 65536);
  });
});

Deno.test("lines: an oversized line yields too_large once, is discarded, and the next line is read", async () => {
  for (const readBufferBytes of [64 * 1024, 100]) {
    await withSocketPair(async ({ server, client }) => {
      const conn = new NdjsonConnection(server, { maxLineBytes: 1000, readBufferBytes });
      const got = collect(conn);
      const big = `{"id":"big-1","op":"embed","input":"${"x".repeat(200_000)}"}\n`;
      // Exactly at the limit is fine; one byte over is not.
      const atLimit = `{"v":"${"y".repeat(1000 - 8)}"}\n`;
      const overByOne = `{"v":"${"y".repeat(1000 - 7)}"}\n`;
      assert.equal(enc.encode(atLimit).length - 1, 1000);
      // The big line arrives in pieces, as a slow client would send it.
      const bytes = enc.encode(`{"id":"before"}\n${big}${atLimit}${overByOne}{"id":"after"}\n`);
      for (let i = 0; i < bytes.length; i += 7_919) await writeAll(client, bytes.subarray(i, i + 7_919));
      await client.closeWrite();
      const items = await got;
      assert.deepEqual(items.map((i) => i.type), ["line", "too_large", "line", "too_large", "line"]);
      const tooLarge = items[1]!;
      assert.ok(tooLarge.type === "too_large");
      assert.equal(tooLarge.limit, 1000);
      assert.ok(tooLarge.prefix.length <= PREFIX_BYTES);
      assert.equal(idFromPrefix(tooLarge.prefix), "big-1");
      assert.equal(items[2]!.text, atLimit.trimEnd());
      assert.equal(items[4]!.text, '{"id":"after"}');
    });
  }
});

Deno.test("lines: a half-written last line is yielded unterminated; an oversized one is not", async () => {
  await withSocketPair(async ({ server, client }) => {
    const conn = new NdjsonConnection(server);
    const got = collect(conn);
    await writeAll(client, enc.encode('{"id":"1","op":"health"}\n{"id":"2","op":'));
    await client.closeWrite();
    const items = await got;
    assert.equal(items.length, 2);
    assert.deepEqual({ ...items[1], bytes: undefined }, {
      type: "line",
      bytes: undefined,
      terminated: false,
      text: '{"id":"2","op":',
    });
  });
  await withSocketPair(async ({ server, client }) => {
    const conn = new NdjsonConnection(server, { maxLineBytes: 10 });
    const got = collect(conn);
    await writeAll(client, enc.encode("x".repeat(50)));
    await client.closeWrite();
    assert.deepEqual((await got).map((i) => i.type), ["too_large"]);
  });
});

Deno.test("lines: bytes are passed through untouched (invalid UTF-8 included); a reset peer ends the iteration", async () => {
  await withSocketPair(async ({ server, client }) => {
    const conn = new NdjsonConnection(server);
    const got = collect(conn);
    await writeAll(client, new Uint8Array([0xff, 0xfe, 0x7b, 10]));
    client.close();
    const items = await got;
    assert.equal(items.length, 1);
    const first = items[0]!;
    assert.ok(first.type === "line");
    assert.deepEqual([...first.bytes], [0xff, 0xfe, 0x7b]);
  });
});

Deno.test("send: 50 concurrent producers of large frames never interleave, each keeps its order", async () => {
  await withSocketPair(async ({ server, client }) => {
    const conn = new NdjsonConnection(server, { maxBatchBytes: 64 * 1024 });
    const reader = new LineReader(client);
    const producers = 50;
    const perProducer = 40;
    const sizes = (p: number, i: number) => ((p * 7919 + i * 104729) % 60_000) + 1;
    const sent = Array.from({ length: producers }, async (_, p) => {
      for (let i = 0; i < perProducer; i++) {
        // Half the producers await each frame (paced), half fire and forget.
        const written = conn.send({ p, i, pad: "z".repeat(sizes(p, i)) });
        if (p % 2 === 0) assert.equal(await written, true);
        else if (i % 10 === 0) await new Promise((r) => setTimeout(r, 0));
      }
    });
    const next = new Map<number, number>();
    for (let n = 0; n < producers * perProducer; n++) {
      const frame = await reader.json() as { p: number; i: number; pad: string };
      assert.equal(frame.i, next.get(frame.p) ?? 0, `producer ${frame.p} out of order`);
      assert.equal(frame.pad.length, sizes(frame.p, frame.i));
      next.set(frame.p, frame.i + 1);
    }
    await Promise.all(sent);
    await conn.flush();
    assert.equal(conn.pendingFrames, 0);
    assert.equal(conn.pendingBytes, 0);
  });
});

Deno.test("enqueue: text and bytes lines keep their order; text of any script is encoded whole, batch after batch", async () => {
  // The default write buffer, and none (each batch joined on its own, as the admin stream's connections do).
  for (const writeBufferBytes of [undefined, 0]) {
    await enqueueMixed({ maxBatchBytes: 1024, writeBufferBytes });
  }
});

async function enqueueMixed(options: NdjsonConnectionOptions): Promise<void> {
  await withSocketPair(async ({ server, client }) => {
    const conn = new NdjsonConnection(server, options);
    const reader = new LineReader(client);
    const shared = enc.encode('{"shared":true}\n'); // one encoding, as the admin stream writes it to many peers
    // The last two: the write buffer grows for one; the other is bigger than it may grow.
    const texts = ["plain", "héllo wörld", "✓ 完了", "🎉🦙", "ü".repeat(2_000), "x".repeat(30_000) + "🎉"];
    const expected: unknown[] = [];
    for (let round = 0; round < 3; round++) {
      // Lines queued in one tick go out together; the next round reuses the write buffer.
      for (const [i, text] of texts.entries()) {
        assert.equal(conn.enqueue(`${JSON.stringify({ round, i, text })}\n`), true);
        expected.push({ round, i, text });
        if (i === 1) {
          conn.enqueue(shared);
          expected.push({ shared: true });
        }
      }
      assert.equal(conn.pendingBytes > 30_000, true); // text counts by its length until encoded
      await conn.flush();
      assert.equal(conn.pendingBytes, 0);
    }
    for (const frame of expected) assert.deepEqual(await reader.json(), frame);
    assert.deepEqual([...shared], [...enc.encode('{"shared":true}\n')], "bytes handed in are not changed");
  });
}

Deno.test("send: a peer that does not read holds the sender back (backpressure), then lets it go", async () => {
  await withSocketPair(async ({ server, client }) => {
    const conn = new NdjsonConnection(server);
    const big = { pad: "q".repeat(8 * 1024 * 1024) };
    let done = false;
    const written = conn.send(big).then((ok) => {
      done = true;
      return ok;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(done, false, "an 8 MiB frame cannot fit in the socket buffer of a peer that does not read");
    assert.equal(conn.pendingFrames, 1);
    assert.ok(conn.pendingBytes > 8 * 1024 * 1024);
    conn.enqueue(enc.encode('{"after":true}\n'));
    assert.equal(conn.pendingFrames, 2);
    const reader = new LineReader(client);
    assert.equal((await reader.json()).pad, big.pad);
    assert.equal(await written, true);
    assert.deepEqual(await reader.json(), { after: true });
  });
});

Deno.test("send after the peer is gone resolves false, never throws; close drops what is queued", async () => {
  await withSocketPair(async ({ server, client }) => {
    const conn = new NdjsonConnection(server);
    client.close();
    // The first writes may still land in the kernel buffer; soon one fails and the connection closes.
    let ok = true;
    for (let i = 0; i < 100 && ok; i++) ok = await conn.send({ i, pad: "p".repeat(65536) });
    assert.equal(ok, false);
    assert.equal(conn.closed, true);
    await conn.whenClosed;
    assert.equal(await conn.send({ late: true }), false);
    assert.equal(conn.enqueue(enc.encode("{}\n")), false);
  });
  await withSocketPair(async ({ server }) => {
    const conn = new NdjsonConnection(server);
    const pending = conn.send({ pad: "q".repeat(8 * 1024 * 1024) });
    const queued = conn.send({ second: true });
    conn.close();
    assert.equal(await pending, false);
    assert.equal(await queued, false);
    assert.equal(conn.pendingFrames, 0);
    // lines() of a closed connection ends at once.
    assert.deepEqual(await collect(conn), []);
  });
});

Deno.test("end: writes what is queued, then closes", async () => {
  await withSocketPair(async ({ server, client }) => {
    const conn = new NdjsonConnection(server);
    for (let i = 0; i < 100; i++) conn.enqueue(enc.encode(`{"i":${i}}\n`));
    const reader = new LineReader(client);
    const ended = conn.end();
    const lines = await reader.rest();
    await ended;
    assert.equal(lines.length, 100);
    assert.equal(lines[99], '{"i":99}');
    assert.equal(conn.closed, true);
  });
});
