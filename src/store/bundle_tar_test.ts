import assert from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import {
  BLOCK,
  decodeTarHeader,
  encodeTarEntryHeader,
  parsePaxRecords,
  tarEndOfArchive,
  tarPadding,
  USTAR_MAX_SIZE,
} from "./bundle_tar_header.ts";
import { type ByteSource, TarReader } from "./bundle_tar_reader.ts";

/** A source that hands out at most `step` bytes per read, like a pipe. */
function source(bytes: Uint8Array, step = 777): ByteSource {
  let at = 0;
  return {
    read(p) {
      if (at >= bytes.length) return Promise.resolve(null);
      const n = Math.min(p.length, step, bytes.length - at);
      p.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

function archive(entries: { path: string; data: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    parts.push(encodeTarEntryHeader({ path: e.path, size: e.data.length, mtime: 1_700_000_000 }));
    parts.push(e.data, new Uint8Array(tarPadding(e.data.length)));
  }
  parts.push(tarEndOfArchive());
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

Deno.test("ustar headers round-trip; sizes past 8 GiB get a pax record; bad checksums are rejected", () => {
  const head = encodeTarEntryHeader({ path: "SHA256SUMS", size: 84, mtime: 0 });
  assert.equal(head.length, BLOCK);
  assert.deepEqual(decodeTarHeader(head), { path: "SHA256SUMS", size: 84, type: "0" });
  const big = encodeTarEntryHeader({ path: "blobs/sha256/x", size: USTAR_MAX_SIZE + 10, mtime: 0 });
  assert.equal(big.length, 3 * BLOCK);
  assert.equal(decodeTarHeader(big.subarray(0, BLOCK))?.type, "x");
  const records = parsePaxRecords(big.subarray(BLOCK, BLOCK + decodeTarHeader(big.subarray(0, BLOCK))!.size));
  assert.equal(records?.get("size"), String(USTAR_MAX_SIZE + 10));
  const bad = head.slice();
  bad[10] = 0x41;
  assert.equal(decodeTarHeader(bad), null);
  assert.throws(() => encodeTarEntryHeader({ path: "a".repeat(100), size: 1, mtime: 0 }), RangeError);
});

Deno.test("TarReader reads entries from a pipe-like source, body streams exact and BYOB", async () => {
  const data = new Uint8Array(100_003).map((_, i) => i * 7);
  const tar = new TarReader(
    source(archive([{ path: "a", data: new Uint8Array([1, 2, 3]) }, { path: "b", data }])),
    "t",
  );
  assert.equal((await tar.peek(BLOCK)).length, BLOCK);
  assert.deepEqual(await tar.next(), { path: "a", size: 3, type: "0" });
  assert.deepEqual(await tar.bodyBytes(10), new Uint8Array([1, 2, 3]));
  assert.deepEqual(await tar.next(), { path: "b", size: data.length, type: "0" });
  const got = new Uint8Array(await new Response(tar.body()).arrayBuffer());
  assert.deepEqual(got, data);
  assert.equal(await tar.next(), null);
});

Deno.test("TarReader skips unread bodies and applies pax size records", async () => {
  const big = encodeTarEntryHeader({ path: "c", size: USTAR_MAX_SIZE + 1, mtime: 0 });
  const tar = new TarReader(source(archive([{ path: "skip", data: new Uint8Array(5000) }])), "t");
  assert.equal((await tar.next())?.path, "skip");
  assert.equal(await tar.next(), null);
  const paxOnly = new TarReader(source(big), "t");
  assert.deepEqual(await paxOnly.next(), { path: "c", size: USTAR_MAX_SIZE + 1, type: "0" });
});

Deno.test("a truncated archive is BUNDLE_INVALID, in a header or in a body", async () => {
  const bytes = archive([{ path: "b", data: new Uint8Array(10_000).fill(9) }]);
  const cutBody = new TarReader(source(bytes.subarray(0, BLOCK + 5000)), "t");
  await cutBody.next();
  await assert.rejects(new Response(cutBody.body()).arrayBuffer(), (e) => isLodeError(e, "BUNDLE_INVALID"));
  const cutHeader = new TarReader(source(bytes.subarray(0, 100)), "t");
  await assert.rejects(
    cutHeader.next(),
    (e) => isLodeError(e, "BUNDLE_INVALID") && /truncated/.test(e.message),
  );
  const noEnd = new TarReader(source(bytes.subarray(0, bytes.length - 2 * BLOCK)), "t");
  await noEnd.next();
  await assert.rejects(noEnd.next(), (e) => isLodeError(e, "BUNDLE_INVALID"));
});
